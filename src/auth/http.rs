//! The one outbound HTTP client: timeouts and redirect policy for every call to the IdP, and the
//! adapter through which the `oauth2` crate sends its requests with it.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// How long to wait for a TCP (and TLS) connection to the IdP.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a whole call to the IdP may take, connection included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Makes `ring` the process-wide crypto provider of rustls, which reqwest's TLS takes its crypto
/// from. Call before building any reqwest client; calling again is harmless.
pub fn install_crypto_provider() {
    // Err only means a provider is installed already (tests start many apps in one process).
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Builds the client every IdP call goes through.
pub fn client() -> anyhow::Result<reqwest::Client> {
    install_crypto_provider();
    Ok(reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        // An OAuth endpoint that redirects is misconfigured; following it could leak credentials.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("cognito-web/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// Our client as `oauth2`'s HTTP client, so the crate needs no HTTP client of its own. A named
/// type rather than a closure: its future is `Send` for every borrow, so a refresh can run in a
/// spawned task.
pub struct OAuthHttp<'a>(pub &'a reqwest::Client);

impl<'c> oauth2::AsyncHttpClient<'c> for OAuthHttp<'_> {
    type Error = reqwest::Error;
    type Future =
        Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, Self::Error>> + Send + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(send(self.0, request))
    }
}

/// Sends a request built by `oauth2` with our client.
async fn send(
    http: &reqwest::Client,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, reqwest::Error> {
    let (parts, body) = request.into_parts();
    let response = http
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await?;
    let mut builder = http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let body = response.bytes().await?.to_vec();
    Ok(builder
        .body(body)
        .expect("a response copied from a valid response is valid"))
}
