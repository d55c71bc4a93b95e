-- A sign-in attempt lives from GET /auth/sign-in to GET /auth/callback: used once, at most 10 minutes.
create table sign_in_attempts (
    -- SHA-256 (base64url) of the `state` value; the value itself is only in the browser's sign_in cookie.
    state_hash text primary key not null,
    -- PKCE code verifier and OIDC nonce for this attempt.
    pkce_verifier text not null,
    nonce text not null,
    -- Local path to go to after sign-in, already validated.
    return_to text not null,
    -- Unix seconds.
    created_at integer not null
);

create index sign_in_attempts_by_created_at on sign_in_attempts (created_at);

-- One row per signed-in browser.
create table sessions (
    -- SHA-256 (base64url) of the opaque id in the session cookie; the id itself is never stored.
    id_hash text primary key not null,
    -- Who signed in, from the verified ID token.
    user_sub text not null,
    username text not null,
    email text,
    -- `cognito:groups`, space-separated; empty when the user is in no group.
    groups text not null,
    -- The synchronizer token POST forms of this session must carry.
    csrf_token text not null,
    -- Tokens, each sealed with ChaCha20-Poly1305 under a key derived from APP_SECRET; the
    -- associated data is "sessions.<column>:<id_hash>" (see src/secrets.rs).
    id_token blob not null,
    access_token blob not null,
    refresh_token blob not null,
    -- Unix seconds.
    access_expires_at integer not null,
    signed_in_at integer not null,
    last_refresh_at integer,
    refresh_count integer not null default 0,
    -- Until when (unix seconds) one request holds the right to refresh this session's tokens;
    -- taken with a conditional UPDATE, so one refresh runs at a time across processes.
    refresh_lease_until integer not null default 0,
    -- When the session ends at the latest (the cookie's Max-Age from sign-in).
    expires_at integer not null
);

create index sessions_by_expires_at on sessions (expires_at);
