//! CORS over real HTTP: preflight answers, allowed and refused origins on the polling transport and
//! on the websocket upgrade, the server's own origin, and clients without an `Origin`.

use std::time::Duration;

use iostack::{App, cors::Cors};
use iostack_testing::TestServer;
use reqwest::{Client, Method, StatusCode, header};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest};

/// Any wait in these tests: a hang fails the test instead of blocking the suite.
const BOUND: Duration = Duration::from_secs(10);
const ALLOWED: &str = "http://app.test:8080";
const REFUSED: &str = "http://evil.test";

async fn server() -> TestServer {
    let app = App::builder(())
        .build()
        .await
        .unwrap()
        .cors(Cors::origins([ALLOWED]).allow_credentials(true));
    TestServer::start(app).await.unwrap()
}

fn http() -> Client {
    Client::builder().timeout(BOUND).build().unwrap()
}

fn polling_url(server: &TestServer) -> String {
    format!("{}/socket.io/?EIO=4&transport=polling", server.url())
}

/// Opens a websocket with this `Origin`; the HTTP status of the answer.
async fn websocket_status(server: &TestServer, origin: &str) -> u16 {
    let url = format!(
        "ws://{}/socket.io/?EIO=4&transport=websocket",
        server.addr()
    );
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert(header::ORIGIN, origin.parse().unwrap());
    match tokio::time::timeout(BOUND, tokio_tungstenite::connect_async(request))
        .await
        .expect("websocket handshake timed out")
    {
        Ok((_, response)) => response.status().as_u16(),
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("websocket handshake failed: {e}"),
    }
}

#[tokio::test]
async fn preflight_from_an_allowed_origin_is_answered_with_its_origin_and_credentials() {
    let server = server().await;
    let response = http()
        .request(Method::OPTIONS, polling_url(&server))
        .header(header::ORIGIN, ALLOWED)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type")
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let h = response.headers();
    assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], ALLOWED);
    assert_eq!(h[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
    assert!(
        h[header::ACCESS_CONTROL_ALLOW_METHODS]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    assert_eq!(h[header::ACCESS_CONTROL_ALLOW_HEADERS], "content-type");
}

#[tokio::test]
async fn preflight_from_a_refused_origin_gets_403_without_cors_headers() {
    let server = server().await;
    let response = http()
        .request(Method::OPTIONS, polling_url(&server))
        .header(header::ORIGIN, REFUSED)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(
        response
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
}

#[tokio::test]
async fn polling_handshake_from_an_allowed_origin_carries_cors_headers() {
    let server = server().await;
    let response = http()
        .get(polling_url(&server))
        .header(header::ORIGIN, ALLOWED)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        ALLOWED
    );
    assert_eq!(
        response.headers()[header::ACCESS_CONTROL_ALLOW_CREDENTIALS],
        "true"
    );
    let body = response.text().await.unwrap();
    assert!(body.starts_with("0{\"sid\""), "not a handshake: {body}");
}

#[tokio::test]
async fn polling_handshake_from_a_refused_origin_gets_403() {
    let server = server().await;
    let response = http()
        .get(polling_url(&server))
        .header(header::ORIGIN, REFUSED)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(
        response
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
}

#[tokio::test]
async fn polling_without_origin_and_from_the_servers_own_origin_is_served() {
    let server = server().await;
    let plain = http().get(polling_url(&server)).send().await.unwrap();
    assert_eq!(plain.status(), StatusCode::OK);
    let own = http()
        .get(polling_url(&server))
        .header(header::ORIGIN, server.url())
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), StatusCode::OK);
}

#[tokio::test]
async fn websocket_upgrade_from_an_allowed_origin_is_accepted() {
    let server = server().await;
    assert_eq!(websocket_status(&server, ALLOWED).await, 101);
}

#[tokio::test]
async fn websocket_upgrade_from_a_refused_origin_gets_403() {
    let server = server().await;
    assert_eq!(websocket_status(&server, REFUSED).await, 403);
}

#[tokio::test]
async fn predicate_decides_origins_not_listed() {
    let app = App::builder(())
        .build()
        .await
        .unwrap()
        .cors(Cors::predicate(|o| o.ends_with(".trusted.test")));
    let server = TestServer::start(app).await.unwrap();
    assert_eq!(
        websocket_status(&server, "https://a.trusted.test").await,
        101
    );
    assert_eq!(
        websocket_status(&server, "https://trusted.test.evil").await,
        403
    );
}
