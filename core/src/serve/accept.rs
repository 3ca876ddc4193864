//! The accept loop: HTTP/1.1 with upgrades on every TCP connection, within [`ServerLimits`].

use std::{io, net::SocketAddr, sync::Arc, time::Duration};

use axum::extract::ConnectInfo;
use futures_util::FutureExt;
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    net::TcpListener,
    sync::{OwnedSemaphorePermit, Semaphore, watch},
};
use tower::ServiceExt;
use tower_http::timeout::RequestBodyTimeoutLayer;

use super::{
    ServerLimits,
    held::Held,
    open::OpenConnections,
    sessions::{ConnOf, SessionConnections},
};

/// How long open connections get to finish their requests once accepting stopped.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// How long clients that still read get to take what they were sent once HTTP is over.
const FLUSH_GRACE: Duration = Duration::from_secs(5);

/// Accepts connections until `stop` turns true, then lets those speaking HTTP finish (bounded),
/// closes every connection still open and returns. With `sessions`, records which connection
/// carries each websocket session.
pub(super) async fn run(
    listener: TcpListener,
    router: axum::Router,
    limits: ServerLimits,
    open: OpenConnections,
    sessions: Option<SessionConnections>,
    mut stop: watch::Receiver<bool>,
) -> io::Result<()> {
    let router = router.layer(RequestBodyTimeoutLayer::new(limits.body_timeout));
    // Every open connection holds a slot, HTTP or upgraded to a websocket; those still speaking
    // HTTP also hold a turn, which the shutdown waits for (bounded).
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let turns = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let slot = tokio::select! {
            biased;
            () = stopped(&mut stop) => break,
            slot = slots.clone().acquire_owned() => slot.map_err(io::Error::other)?,
        };
        // Never waits: there are as many turns as slots.
        let turn = turns
            .clone()
            .acquire_owned()
            .await
            .map_err(io::Error::other)?;
        let (tcp, peer) = tokio::select! {
            biased;
            () = stopped(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors or a connection reset before accept: keep serving.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        tokio::spawn(serve_connection(
            peer,
            router.clone(),
            limits.clone(),
            sessions.clone(),
            stop.clone(),
            Held::new(tcp, &open, slot, limits.send_timeout),
            turn,
        ));
    }
    drop(listener);
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(CLOSE_GRACE, turns.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("HTTP requests still running {CLOSE_GRACE:?} after the shutdown");
    }
    // Websockets, whose clients may keep their Engine.IO session open after socket.io's
    // disconnect, and HTTP requests past the grace time.
    let closed = open.close_all(FLUSH_GRACE).await;
    if closed > 0 {
        tracing::info!("closed {closed} connections still open after the shutdown");
    }
    Ok(())
}

/// Serves HTTP on one TCP connection; the turn is given back when HTTP ends, and the connection's
/// slot when the connection closes (after HTTP, or after the websocket it was upgraded to).
async fn serve_connection(
    peer: SocketAddr,
    router: axum::Router,
    limits: ServerLimits,
    sessions: Option<SessionConnections>,
    mut stop: watch::Receiver<bool>,
    tcp: Held,
    _turn: OwnedSemaphorePermit,
) {
    if limits.tcp_nodelay
        && let Err(e) = tcp.set_nodelay(true)
    {
        tracing::debug!("cannot set TCP_NODELAY: {e}");
    }
    let sessions = sessions.map(|sessions| (sessions, tcp.conn().clone()));
    let service = hyper::service::service_fn(move |mut req: http::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        let Some((sessions, conn)) = &sessions else {
            return router.clone().oneshot(req).left_future();
        };
        req.extensions_mut().insert(ConnOf::new(conn));
        let upgrading = upgrading_session(req.uri());
        let (sessions, conn) = (sessions.clone(), conn.clone());
        router
            .clone()
            .oneshot(req)
            .inspect(move |response| {
                if let (Some(sid), Ok(response)) = (upgrading, response)
                    && response.status() == http::StatusCode::SWITCHING_PROTOCOLS
                {
                    sessions.upgraded(sid, &conn);
                }
            })
            .right_future()
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .serve_connection(TokioIo::new(tcp), service)
        .with_upgrades();
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = stopped(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, "connection closed: {e}");
    }
}

/// The session a websocket upgrade request names (`transport=websocket&sid=..`), if any.
fn upgrading_session(uri: &http::Uri) -> Option<socketioxide::socket::Sid> {
    let query = uri.query()?;
    let mut pairs = query.split('&');
    pairs.clone().find(|pair| *pair == "transport=websocket")?;
    pairs.find_map(|pair| pair.strip_prefix("sid=")?.parse().ok())
}

/// Resolves once accepting stopped (or the server was dropped).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_websocket_requests_of_a_session_name_one() {
        let sid = socketioxide::socket::Sid::new();
        let upgrade = |query: &str| upgrading_session(&query.parse().unwrap());
        assert_eq!(
            upgrade(&format!("/socket.io/?EIO=4&transport=websocket&sid={sid}")),
            Some(sid)
        );
        assert_eq!(
            upgrade(&format!("/socket.io/?sid={sid}&transport=websocket")),
            Some(sid)
        );
        assert_eq!(
            upgrade(&format!("/socket.io/?EIO=4&transport=polling&sid={sid}")),
            None
        );
        assert_eq!(upgrade("/socket.io/?EIO=4&transport=websocket"), None);
        assert_eq!(
            upgrade("/socket.io/?EIO=4&transport=websocket&sid=not-a-sid"),
            None
        );
        assert_eq!(upgrade("/socket.io/"), None);
    }
}
