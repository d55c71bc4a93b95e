//! The app's side of Cognito's OAuth endpoints: the authorize URL, the token endpoint (code and
//! refresh grants), revocation, userInfo and the logout URL. Speaks the same to the development IdP.

use std::collections::BTreeMap;
use std::time::Duration;

use oauth2::basic::{
    BasicErrorResponse, BasicErrorResponseType, BasicRevocationErrorResponse,
    BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, Scope,
    StandardErrorResponse, StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::auth::http::OAuthHttp;
use crate::auth::id_token::IdTokenVerifier;
use crate::metrics;
use crate::secrets::{Secret, random_token};

/// Where the IdP is and who the app is to it.
#[derive(Debug, Clone)]
pub struct IdpSettings {
    /// Managed-login domain: `/oauth2/*` and `/logout` live here.
    pub domain: Url,
    /// Issuer: `iss` of the tokens; JWKS lives beneath it.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<Secret<String>>,
    pub redirect_uri: Url,
    pub logout_uri: Url,
    pub scopes: Vec<String>,
    /// The identity providers sign-in offers (`COGNITO_IDENTITY_PROVIDERS`); empty: the IdP's
    /// own page chooses.
    pub identity_providers: Vec<String>,
    /// Sent as `login_hint` with every sign-in but "sign in as someone else".
    pub login_hint: Option<String>,
}

/// Cognito's token response carries the ID token beside the standard fields.
#[derive(Clone, Deserialize, Serialize)]
pub struct CognitoTokenFields {
    id_token: Option<String>,
}

impl std::fmt::Debug for CognitoTokenFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CognitoTokenFields([redacted])")
    }
}

impl oauth2::ExtraTokenFields for CognitoTokenFields {}

type CognitoTokenResponse = StandardTokenResponse<CognitoTokenFields, BasicTokenType>;
type OAuthClient = oauth2::Client<
    BasicErrorResponse,
    CognitoTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// What a sign-in asks of the authorize endpoint beyond the app's own parameters.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuthorizeOptions<'a> {
    /// `identity_provider`: go straight to this provider (one of [`IdpClient::identity_providers`]).
    pub identity_provider: Option<&'a str>,
    /// `prompt=login`: ask for the password even when the IdP's session could answer at once.
    pub prompt_login: bool,
    /// Leave out the configured `login_hint` (the user wants another account).
    pub without_login_hint: bool,
}

/// A sign-in about to start: the URL to send the browser to, and what the callback must check.
pub struct AuthorizeRequest {
    pub url: Url,
    pub state: Secret<String>,
    pub nonce: String,
    pub pkce_verifier: Secret<String>,
}

impl std::fmt::Debug for AuthorizeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL carries the state and the PKCE challenge; none of it belongs in a log.
        f.write_str("AuthorizeRequest([redacted])")
    }
}

/// Tokens from the token endpoint.
pub struct TokenSet {
    pub id_token: Secret<String>,
    pub access_token: Secret<String>,
    /// Always present after a code exchange; after a refresh only when the IdP rotates it.
    pub refresh_token: Option<Secret<String>>,
    pub expires_in: Duration,
}

impl TokenSet {
    /// When the access token expires, for tokens received at `now`.
    pub fn expires_at(&self, now: i64) -> i64 {
        // `token_set` has checked that `expires_in` is within a day.
        now.saturating_add(i64::try_from(self.expires_in.as_secs()).unwrap_or(i64::MAX))
    }
}

/// The longest access-token lifetime Cognito issues (one day); anything longer is nonsense.
const MAX_EXPIRES_IN: Duration = Duration::from_secs(24 * 3600);

/// How a call to the token or revocation endpoint failed. Callers branch on it.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The grant is no good: code used, expired or unknown, PKCE mismatch, refresh token revoked
    /// or expired. Cognito gives no finer reason, and none should be guessed.
    #[error("the identity provider refused the grant (invalid_grant)")]
    InvalidGrant,
    /// Any other OAuth error the IdP answered with, e.g. `invalid_client`.
    #[error("the identity provider refused the request ({0})")]
    Refused(String),
    /// No usable answer: cannot connect, timeout, 5xx, or a body that does not parse.
    #[error("the identity provider could not be reached or answered nonsense")]
    Unreachable(#[source] anyhow::Error),
}

/// How a userInfo call failed.
#[derive(Debug, thiserror::Error)]
pub enum UserInfoError {
    /// 401 `invalid_token`: expired, revoked, or the user was signed out globally.
    #[error("the identity provider no longer accepts the access token")]
    TokenRejected,
    #[error("the identity provider's userInfo endpoint could not be reached")]
    Unreachable(#[source] anyhow::Error),
}

/// The IdP, as the app sees it.
pub struct IdpClient {
    http: reqwest::Client,
    oauth: OAuthClient,
    scopes: Vec<String>,
    identity_providers: Vec<String>,
    login_hint: Option<String>,
    client_id: String,
    client_secret: Option<Secret<String>>,
    domain: Url,
    revoke_url: Url,
    user_info_url: Url,
    logout_url: Url,
    pub id_tokens: IdTokenVerifier,
}

impl IdpClient {
    pub fn new(http: reqwest::Client, settings: &IdpSettings) -> anyhow::Result<Self> {
        let endpoint = |path: &str| settings.domain.join(path).map(|url| url.to_string());
        let mut oauth: OAuthClient = oauth2::Client::new(ClientId::new(settings.client_id.clone()))
            .set_auth_uri(AuthUrl::new(endpoint("/oauth2/authorize")?)?)
            .set_token_uri(TokenUrl::new(endpoint("/oauth2/token")?)?)
            .set_redirect_uri(RedirectUrl::from_url(settings.redirect_uri.clone()));
        if let Some(secret) = &settings.client_secret {
            // client_secret_basic: Cognito's own examples use it, PKCE included.
            oauth = oauth.set_client_secret(ClientSecret::new(secret.expose().clone()));
        }
        let mut logout_url = settings.domain.join("/logout")?;
        logout_url
            .query_pairs_mut()
            .append_pair("client_id", &settings.client_id)
            .append_pair("logout_uri", settings.logout_uri.as_str());
        Ok(Self {
            id_tokens: IdTokenVerifier::new(http.clone(), &settings.issuer, &settings.client_id),
            http,
            oauth,
            scopes: settings.scopes.clone(),
            identity_providers: settings.identity_providers.clone(),
            login_hint: settings.login_hint.clone(),
            client_id: settings.client_id.clone(),
            client_secret: settings.client_secret.clone(),
            domain: settings.domain.clone(),
            revoke_url: settings.domain.join("/oauth2/revoke")?,
            user_info_url: settings.domain.join("/oauth2/userInfo")?,
            logout_url,
        })
    }

    /// A new authorize URL with fresh `state`, `nonce` and PKCE (S256) values.
    pub fn authorize(&self, options: AuthorizeOptions<'_>) -> AuthorizeRequest {
        let state = random_token(32);
        let nonce = random_token(32);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = self
            .oauth
            .authorize_url(|| CsrfToken::new(state.clone()))
            .add_scopes(self.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge)
            .add_extra_param("nonce", &nonce);
        if let Some(provider) = options.identity_provider {
            request = request.add_extra_param("identity_provider", provider);
        }
        if options.prompt_login {
            request = request.add_extra_param("prompt", "login");
        }
        if let Some(hint) = self
            .login_hint
            .as_deref()
            .filter(|_| !options.without_login_hint)
        {
            request = request.add_extra_param("login_hint", hint);
        }
        let (url, _) = request.url();
        AuthorizeRequest {
            url,
            state: Secret::new(state),
            nonce,
            pkce_verifier: Secret::new(verifier.secret().clone()),
        }
    }

    /// The authorization-code grant, with the PKCE verifier.
    pub async fn exchange_code(
        &self,
        code: &str,
        pkce_verifier: &Secret<String>,
    ) -> Result<TokenSet, TokenError> {
        let _timer = metrics::Timer::idp_call("token");
        let http = OAuthHttp(&self.http);
        let response = self
            .oauth
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.expose().clone()))
            .request_async(&http)
            .await
            .map_err(token_error)?;
        token_set(response, true)
    }

    /// The refresh-token grant.
    pub async fn refresh(&self, refresh_token: &Secret<String>) -> Result<TokenSet, TokenError> {
        let _timer = metrics::Timer::idp_call("token");
        let http = OAuthHttp(&self.http);
        let refresh_token = RefreshToken::new(refresh_token.expose().clone());
        let response = self
            .oauth
            .exchange_refresh_token(&refresh_token)
            .request_async(&http)
            .await
            .map_err(token_error)?;
        token_set(response, false)
    }

    /// Revokes a refresh token, and with it every token minted from it.
    ///
    /// Sent by hand rather than through `oauth2`, which refuses a revocation URL that is not
    /// https (the development IdP is plain http on loopback). The request is Cognito's: `token`
    /// in a form body, the client authenticated as at the token endpoint.
    pub async fn revoke(&self, refresh_token: &Secret<String>) -> Result<(), TokenError> {
        let _timer = metrics::Timer::idp_call("revoke");
        let mut form = vec![("token", refresh_token.expose().as_str())];
        let mut request = self.http.post(self.revoke_url.clone());
        match &self.client_secret {
            Some(secret) => request = request.basic_auth(&self.client_id, Some(secret.expose())),
            None => form.push(("client_id", &self.client_id)),
        }
        let response = request
            .form(&form)
            .send()
            .await
            .map_err(|error| TokenError::Unreachable(error.into()))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        #[derive(Deserialize)]
        struct ErrorBody {
            error: String,
        }
        match response.json::<ErrorBody>().await {
            Ok(body) if body.error == "invalid_grant" => Err(TokenError::InvalidGrant),
            Ok(body) if status.is_client_error() => Err(TokenError::Refused(body.error)),
            _ => Err(TokenError::Unreachable(anyhow::anyhow!(
                "revocation answered {status}"
            ))),
        }
    }

    /// Cognito's userInfo endpoint, called with the access token: the user's attributes.
    pub async fn user_info(
        &self,
        access_token: &Secret<String>,
    ) -> Result<BTreeMap<String, serde_json::Value>, UserInfoError> {
        let _timer = metrics::Timer::idp_call("userinfo");
        let response = self
            .http
            .get(self.user_info_url.clone())
            .bearer_auth(access_token.expose())
            .send()
            .await
            .map_err(|error| UserInfoError::Unreachable(error.into()))?;
        if response.status() == reqwest::StatusCode::UNAUTHORIZED {
            return Err(UserInfoError::TokenRejected);
        }
        let response = response
            .error_for_status()
            .map_err(|error| UserInfoError::Unreachable(error.into()))?;
        response
            .json()
            .await
            .map_err(|error| UserInfoError::Unreachable(error.into()))
    }

    /// Cognito's `/logout` with `client_id` and `logout_uri`: clears the managed-login session.
    pub fn logout_url(&self) -> &Url {
        &self.logout_url
    }

    /// `request` sent through Cognito's `/logout` first: with the authorize parameters instead
    /// of `logout_uri`, Cognito ends its managed-login session and then shows its sign-in page
    /// for them (docs/cognito-protocol.md §9), so the user can choose another account.
    pub fn through_logout(
        &self,
        mut request: AuthorizeRequest,
    ) -> anyhow::Result<AuthorizeRequest> {
        let mut url = self.domain.join("/logout")?;
        url.set_query(request.url.query());
        request.url = url;
        Ok(request)
    }

    /// The identity providers sign-in offers, in the order configured; empty when the IdP's own
    /// page chooses.
    pub fn identity_providers(&self) -> &[String] {
        &self.identity_providers
    }
}

fn token_error<E: std::error::Error + Send + Sync + 'static>(
    error: RequestTokenError<E, StandardErrorResponse<BasicErrorResponseType>>,
) -> TokenError {
    match error {
        RequestTokenError::ServerResponse(response) => match response.error() {
            BasicErrorResponseType::InvalidGrant => TokenError::InvalidGrant,
            other => TokenError::Refused(other.to_string()),
        },
        RequestTokenError::Request(error) => TokenError::Unreachable(error.into()),
        // Parse errors carry the response body; only their description goes on.
        RequestTokenError::Parse(error, _) => {
            TokenError::Unreachable(anyhow::anyhow!("unreadable response: {}", error.path()))
        }
        RequestTokenError::Other(message) => TokenError::Unreachable(anyhow::anyhow!(message)),
    }
}

fn token_set(
    response: CognitoTokenResponse,
    expect_refresh_token: bool,
) -> Result<TokenSet, TokenError> {
    let id_token = response.extra_fields().id_token.clone().ok_or_else(|| {
        TokenError::Unreachable(anyhow::anyhow!(
            "the token response has no id_token (is openid among the scopes?)"
        ))
    })?;
    let refresh_token = response
        .refresh_token()
        .map(|token| Secret::new(token.secret().clone()));
    if expect_refresh_token && refresh_token.is_none() {
        return Err(TokenError::Unreachable(anyhow::anyhow!(
            "the token response has no refresh_token"
        )));
    }
    // Cognito always sends expires_in; assume its default lifetime if one day it does not.
    let expires_in = response.expires_in().unwrap_or(Duration::from_secs(3600));
    if expires_in.is_zero() || expires_in > MAX_EXPIRES_IN {
        return Err(TokenError::Unreachable(anyhow::anyhow!(
            "the token response's expires_in ({} s) is not a lifetime Cognito issues",
            expires_in.as_secs()
        )));
    }
    Ok(TokenSet {
        id_token: Secret::new(id_token),
        access_token: Secret::new(response.access_token().secret().clone()),
        refresh_token,
        expires_in,
    })
}
