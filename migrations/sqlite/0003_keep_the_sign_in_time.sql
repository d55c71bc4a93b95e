-- When the user last typed a password (or otherwise authenticated) at the IdP: the ID token's
-- `auth_time`, in Unix seconds. Kept on refresh unless a refreshed ID token carries a newer one.
-- `/admin` compares it with ADMIN_MAX_AUTH_AGE. Sessions started before this column count as
-- signed in long ago (0): with a limit set, `/admin` asks them to sign in again once.
alter table sessions add column auth_time integer not null default 0;
