-- The PostgreSQL schema: the same tables and columns as SQLite's migrations 0001 to 0004 together
-- (see migrations/sqlite/ for what each column means), in PostgreSQL's types, plus the triggers
-- that tell every instance when a session changed.

-- A sign-in attempt lives from GET /auth/sign-in to GET /auth/callback: used once, at most 10 minutes.
create table sign_in_attempts (
    state_hash text primary key,
    pkce_verifier text not null,
    nonce text not null,
    return_to text not null,
    created_at bigint not null
);

create index sign_in_attempts_by_created_at on sign_in_attempts (created_at);

-- One row per signed-in browser. Tokens are sealed (ChaCha20-Poly1305) before they get here.
create table sessions (
    id_hash text primary key,
    user_sub text not null,
    username text not null,
    email text,
    groups text not null,
    csrf_token text not null,
    id_token bytea not null,
    access_token bytea not null,
    refresh_token bytea not null,
    access_expires_at bigint not null,
    signed_in_at bigint not null,
    auth_time bigint not null default 0,
    last_refresh_at bigint,
    refresh_count bigint not null default 0,
    refresh_lease_until bigint not null default 0,
    refresh_lease_token text,
    expires_at bigint not null,
    public_id text not null unique,
    user_agent text not null default '',
    last_seen_at bigint not null default 0
);

create index sessions_by_expires_at on sessions (expires_at);
create index sessions_by_user_sub on sessions (user_sub);

-- Every instance LISTENs on `cognito_web_sessions:<schema>` (this table's schema, so that
-- deployments, or tests, sharing a database in schemas of their own hear only their own) and
-- drops its cached copy of the session named by a notification's payload (its id hash). The
-- database sends them, on commit, for any writer: a sign-out, a stored refresh, a refresh given
-- back without tokens (its waiters on other instances look again), and a live row deleted by
-- hand. The writes a refresh makes while it holds the lease, the last-seen time, and the
-- housekeeping's deletes of sessions that have ended change nothing a cache serves.
create function sessions_notify_change() returns trigger
language plpgsql as $$
begin
    perform pg_notify('cognito_web_sessions:' || tg_table_schema, old.id_hash);
    return null;
end
$$;

create trigger sessions_changed after update on sessions for each row
    when (old.refresh_count <> new.refresh_count
          or (old.refresh_lease_token is not null and new.refresh_lease_token is null))
    execute function sessions_notify_change();

create trigger sessions_ended after delete on sessions for each row
    when (old.expires_at > floor(extract(epoch from now())))
    execute function sessions_notify_change();
