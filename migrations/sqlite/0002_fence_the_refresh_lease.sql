-- The refresh lease carries a random token chosen by its holder. Every write a refresh makes (a
-- rotated refresh token, the new tokens, giving the lease back) names that token, so a holder
-- whose lease lapsed cannot overwrite what the next holder stored. NULL when nobody holds it.
alter table sessions add column refresh_lease_token text;
