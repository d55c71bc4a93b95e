//! A reference actix-web application that signs users in with Amazon Cognito (authorization code
//! with PKCE), keeps every token on the server, and writes every cookie under one cookie policy.

pub mod auth;
pub mod clock;
pub mod config;
pub mod cookies;
pub mod db;
pub mod dev_idp;
pub mod error;
pub mod limits;
pub mod pages;
pub mod routes;
pub mod secrets;
pub mod startup;
