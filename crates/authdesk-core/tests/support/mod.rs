//! Helpers shared by the integration tests (each test file includes them with `mod support;`).

pub mod oidc;
