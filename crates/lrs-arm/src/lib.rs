//! The ARM front end: the Azure Resource Manager HTTP surface of SQL Managed Instance's Log
//! Replay Service, so that `az`, PowerShell and the SDKs work unchanged against the emulator.
//!
//! Shape (the contract it follows: `docs/references.md#arm-contract`):
//!
//! * [`route`] parses every request (method, path, query) into an [`ArmOperation`] before any
//!   handler runs; paths are case-insensitive and names keep the caller's spelling.
//! * Handlers call the restore engine through [`Backend`] (implemented by
//!   [`lrs_engine::Engine`]); every refusal is an [`ApiError`], written to the wire in one place
//!   as ARM's `{"error":{"code","message"}}` envelope, and engine errors are mapped in one
//!   `From<EngineError>`.
//! * Long-running operations answer 202 with `Azure-AsyncOperation`, `Location` (absolute URLs
//!   on this server) and `Retry-After`.
//! * Besides the SQL calls it serves the plumbing the clients need against a local endpoint:
//!   subscriptions, tenants, cloud metadata, an AAD authority for service-principal login, and
//!   the App Service managed-identity token endpoint.
//! * [`start`] serves it over HTTPS (rustls; a certificate is generated on first start) and
//!   optionally plain HTTP, with graceful shutdown.

mod app;
mod auth;
mod backend;
mod config;
mod dashboard;
mod error;
#[cfg(test)]
mod fake;
mod handlers;
mod json;
mod lro;
mod metrics;
mod middleware;
pub mod openapi;
mod refusals;
mod regions;
mod resources;
pub mod restore_details;
pub mod route;
mod rules;
mod server;
mod tls;

pub use backend::{Backend, BoxFuture};
pub use config::{
    AuthMode, DEFAULT_BODY_LIMIT, DEFAULT_SUBSCRIPTION_ID, DEFAULT_TENANT_ID, ServeConfig,
    SubscriptionInfo,
};
pub use error::{ApiError, FAILURE_CAUSE_HEADER};
pub use restore_details::restore_details_body;
pub use route::ArmOperation;
pub use server::{
    RunningServer, ServeError, ShutdownHandle, build_router, start, start_with_backend,
};
pub use tls::{GENERATED_NAMES, install_crypto_provider};
