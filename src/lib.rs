//! A reference actix-web application that signs users in with Amazon Cognito (authorization code
//! with PKCE), keeps every token on the server, and writes every cookie under one cookie policy.
//!
//! Arrows run one way: `app` → `web` → `auth` → `db`, with `cookies`, `config`, `secrets`,
//! `clock` and `metrics` (the metrics facade) as leaves beneath; `dev_idp` stands apart and is
//! reached only over HTTP. `check` (the configuration checks of `--check` and start-up) sits
//! beside `web`, over `auth`.

pub mod app;
pub mod auth;
pub mod check;
pub mod clock;
pub mod config;
pub mod cookies;
pub mod db;
pub mod dev_idp;
pub mod metrics;
pub mod secrets;
pub mod web;
