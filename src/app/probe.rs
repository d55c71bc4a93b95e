//! `cognito-web --healthcheck`: asks the running app for `GET /healthz`, for a container's
//! `HEALTHCHECK` in an image that has no curl.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use crate::config::Config;

/// GETs `/healthz` (under the base path) from the app these settings describe; `Ok` on a 2xx.
pub async fn healthcheck(config: &Config) -> anyhow::Result<()> {
    let mut address = config.listen;
    // Bound to every interface (as in a container): ask on loopback.
    if address.ip().is_unspecified() {
        address.set_ip(match address.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    let url = format!("http://{address}{}/healthz", config.base_path());
    crate::auth::http::install_crypto_provider();
    let response = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()?
        .get(&url)
        .send()
        .await
        .map_err(|error| anyhow::anyhow!("{url} did not answer: {error}"))?;
    let status = response.status();
    anyhow::ensure!(status.is_success(), "{url} answered {status}");
    Ok(())
}
