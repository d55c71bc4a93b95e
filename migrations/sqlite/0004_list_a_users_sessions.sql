-- What `/account/sessions` shows of each of a user's sessions, and how it names one.
--
-- The session's public id: 128 random bits (base64url; hex for the rows given one here), the
-- `{id}` of `/account/sessions/{id}/sign-out`. It is neither the cookie's value nor its hash, so a page or a
-- log line that shows it gives nobody the session. Set at sign-in; sessions started before this
-- column get one here. SQLite cannot add a NOT NULL column without a constant default, so the
-- column allows NULL, but every row has a value and the unique index keeps them apart.
alter table sessions add column public_id text;
update sessions set public_id = lower(hex(randomblob(16))) where public_id is null;
create unique index sessions_by_public_id on sessions (public_id);

-- The browser's User-Agent header at sign-in, cut to 200 characters; '' when it sent none.
alter table sessions add column user_agent text not null default '';

-- When the session was last used (Unix seconds), to the minute: written at most once a minute,
-- when a read of the row finds it older (see `SessionStore::find`).
alter table sessions add column last_seen_at integer not null default 0;
update sessions set last_seen_at = max(signed_in_at, coalesce(last_refresh_at, 0));

-- `/account/sessions` lists one user's sessions.
create index sessions_by_user_sub on sessions (user_sub);
