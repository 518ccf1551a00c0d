//! A `graphql-transport-ws` client for tests: a real WebSocket, every message checked.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest, protocol::frame::coding::CloseCode},
};

use crate::TestApp;

/// What the server sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    Message(Value),
    Closed(u16, String),
}

impl Received {
    /// The message, asserting it is one.
    pub fn message(self) -> Value {
        match self {
            Self::Message(v) => v,
            Self::Closed(code, reason) => panic!("closed {code}: {reason}"),
        }
    }

    /// The close code, asserting the socket closed.
    pub fn close_code(&self) -> u16 {
        match self {
            Self::Closed(code, _) => *code,
            Self::Message(v) => panic!("expected a close, got {v}"),
        }
    }
}

pub struct Ws {
    stream: WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>,
}

impl TestApp {
    /// A WebSocket to `/graphql` offering `graphql-transport-ws`.
    pub async fn ws(&self) -> Ws {
        let url = format!("ws://{}/graphql", self.address);
        let mut request = url.into_client_request().unwrap();
        request.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        let (stream, response) = tokio_tungstenite::connect_async(request).await.unwrap();
        assert_eq!(
            response.headers()["sec-websocket-protocol"],
            "graphql-transport-ws"
        );
        Ws { stream }
    }

    /// A connection acknowledged for `token` (anonymous without one).
    pub async fn ws_for(&self, token: Option<&str>) -> Ws {
        let mut ws = self.ws().await;
        let ack = ws.init(token).await.message();
        assert_eq!(ack["type"], "connection_ack");
        ws
    }
}

impl Ws {
    pub async fn send(&mut self, message: Value) {
        self.stream
            .send(Message::Text(message.to_string().into()))
            .await
            .unwrap();
    }

    pub async fn send_raw(&mut self, text: String) {
        // The server may close before it has read it all: that is an answer too.
        let _ = self.stream.send(Message::Text(text.into())).await;
    }

    /// The next message or the close, waiting at most `within`.
    pub async fn recv_within(&mut self, within: Duration) -> Option<Received> {
        loop {
            let next = tokio::time::timeout(within, self.stream.next())
                .await
                .ok()?;
            return Some(match next {
                Some(Ok(Message::Text(text))) => {
                    Received::Message(serde_json::from_str(&text).unwrap())
                }
                Some(Ok(Message::Close(frame))) => frame.map_or(
                    Received::Closed(u16::from(CloseCode::Status), String::new()),
                    |f| Received::Closed(u16::from(f.code), f.reason.to_string()),
                ),
                Some(Ok(_)) => continue,
                Some(Err(e)) => Received::Closed(0, e.to_string()),
                None => Received::Closed(0, "stream ended".into()),
            });
        }
    }

    /// The next message or the close (10 s at most).
    pub async fn recv(&mut self) -> Received {
        self.recv_within(Duration::from_secs(10))
            .await
            .expect("an answer within 10 s")
    }

    pub async fn init(&mut self, token: Option<&str>) -> Received {
        let payload = match token {
            Some(token) => json!({ "Authorization": format!("Bearer {token}") }),
            None => json!({}),
        };
        self.send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        self.recv().await
    }

    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } }))
            .await;
    }

    /// Nothing arrives for `quiet`.
    pub async fn silent_for(&mut self, quiet: Duration) -> bool {
        self.recv_within(quiet).await.is_none()
    }
}
