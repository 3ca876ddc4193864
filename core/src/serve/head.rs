//! Request heads copied out of hyper's read buffer before socket.io sees them.
//!
//! engineioxide keeps each session's handshake request head (URI and headers) for the socket's whole
//! life. hyper parses the URI and the header values as slices of the connection's read buffer
//! (8 KiB), so one kept head pins that whole buffer. Copying them (a few hundred bytes) lets the
//! buffer go: about 8 KiB less per idle connection (see `benches/README.md`).

use http::{HeaderValue, Request, Uri};

/// Gives `req` a URI and header values of its own, equal to the ones it had. Only a request that
/// can open a session (no `sid` in its query, as engineioxide reads it) is copied: engineioxide
/// keeps only those, so the polling and upgrade requests of existing sessions pass untouched.
pub(crate) fn detach_head<B>(mut req: Request<B>) -> Request<B> {
    let has_session = req
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|p| p.starts_with("sid=")));
    if has_session {
        return req;
    }
    if let Ok(uri) = Uri::try_from(req.uri().to_string()) {
        *req.uri_mut() = uri;
    }
    for value in req.headers_mut().values_mut() {
        // `from_bytes` copies; the value was valid, so it is again.
        if let Ok(mut copy) = HeaderValue::from_bytes(value.as_bytes()) {
            copy.set_sensitive(value.is_sensitive());
            *value = copy;
        }
    }
    req
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_equals_the_original() {
        let mut sensitive = HeaderValue::from_static("Bearer abc");
        sensitive.set_sensitive(true);
        let req = Request::builder()
            .uri("/socket.io/?EIO=4&transport=websocket&t=P%20x")
            .header("x-forwarded-for", "10.0.0.1, 10.0.0.2")
            .header("x-forwarded-for", "10.0.0.3")
            .header("authorization", sensitive)
            .header("user-agent", "node-XMLHttpRequest")
            .body(())
            .unwrap();
        let original = req.headers().clone();
        let uri = req.uri().clone();
        let copy = detach_head(req);
        assert_eq!(copy.uri(), &uri);
        assert_eq!(
            copy.uri().query(),
            Some("EIO=4&transport=websocket&t=P%20x")
        );
        assert_eq!(copy.headers(), &original);
        assert_eq!(copy.headers().get_all("x-forwarded-for").iter().count(), 2);
        assert!(copy.headers()["authorization"].is_sensitive());
    }

    /// The bytes of the user-agent value, by address: a copy lives elsewhere.
    fn user_agent_at<B>(req: &Request<B>) -> *const u8 {
        req.headers()["user-agent"].as_bytes().as_ptr()
    }

    #[test]
    fn only_requests_that_open_a_session_are_copied() {
        let request = |uri: &str| {
            Request::builder()
                .uri(uri)
                .header(
                    "user-agent",
                    HeaderValue::from_bytes(b"node-XMLHttpRequest").unwrap(),
                )
                .body(())
                .unwrap()
        };
        let open = request("/socket.io/?EIO=4&transport=polling");
        let before = user_agent_at(&open);
        assert_ne!(
            user_agent_at(&detach_head(open)),
            before,
            "handshake copied"
        );

        for uri in [
            "/socket.io/?EIO=4&transport=polling&sid=AAAAAAAAAAAAAAHs",
            "/socket.io/?sid=AAAAAAAAAAAAAAHs&EIO=4&transport=websocket",
        ] {
            let later = request(uri);
            let before = user_agent_at(&later);
            assert_eq!(
                user_agent_at(&detach_head(later)),
                before,
                "{uri} left as is"
            );
        }
    }
}
