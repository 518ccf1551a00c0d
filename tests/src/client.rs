//! A GraphQL-over-HTTP client for tests, with the assertions tests keep repeating.

use serde_json::{Value, json};

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    endpoint: String,
    token: Option<String>,
}

/// A GraphQL response body with the HTTP status it came with.
#[derive(Debug, Clone)]
pub struct Gql {
    pub status: u16,
    pub body: Value,
}

impl Gql {
    /// `data.<field>`, asserting the response has no errors.
    pub fn data(&self, field: &str) -> &Value {
        assert!(
            self.body.get("errors").is_none(),
            "unexpected errors: {:#}",
            self.body
        );
        &self.body["data"][field]
    }

    /// The `extensions.code` of the first error, asserting there is one.
    pub fn error_code(&self) -> &str {
        self.body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("expected an error with a code: {:#}", self.body))
    }

    /// `userErrors` of the mutation `field` as `(field, code)` pairs.
    pub fn user_errors(&self, field: &str) -> Vec<(Option<String>, String)> {
        self.data(field)["userErrors"]
            .as_array()
            .unwrap_or_else(|| panic!("no userErrors in {:#}", self.body))
            .iter()
            .map(|e| {
                (
                    e["field"].as_str().map(str::to_owned),
                    e["code"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }
}

impl Client {
    pub fn new(http: reqwest::Client, endpoint: String, token: Option<String>) -> Self {
        Self {
            http,
            endpoint,
            token,
        }
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// A POST request to `/graphql` with this client's credentials, to customise.
    pub fn post(&self) -> reqwest::RequestBuilder {
        let request = self.http.post(&self.endpoint);
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// A GET request to `/graphql` with this client's credentials.
    pub fn get(&self, params: &[(&str, &str)]) -> reqwest::RequestBuilder {
        let request = self.http.get(&self.endpoint).query(params);
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// POSTs `query` with `variables` as JSON and returns the decoded response.
    pub async fn gql(&self, query: &str, variables: Value) -> Gql {
        let response = self
            .post()
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("request sent");
        Gql::read(response).await
    }
}

impl Gql {
    pub async fn read(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let text = response.text().await.expect("body read");
        let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
        Self { status, body }
    }
}
