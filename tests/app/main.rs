//! Integration tests: the app and the development IdP on ports the OS picks, SQLite in a
//! temporary folder (or PostgreSQL, with `TEST_DATABASE_URL`: see `database`), walked by a client that keeps cookies and follows no redirect by itself.

mod attacks;
mod browser;
mod callback;
mod check;
mod control;
mod cookie_audit;
mod database;
mod database_tls;
mod dev_idp;
mod faults;
mod flow;
mod headers;
mod helpers;
mod id_token;
mod infra;
mod instances;
mod ops;
mod outage;
mod postgres_cluster;
mod process;
mod properties;
mod reauth;
mod refresh;
mod return_to;
mod rotation;
mod secrets;
mod sessions_page;
mod startup;
