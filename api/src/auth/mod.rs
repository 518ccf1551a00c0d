//! Credentials: access-token JWTs, password hashing, opaque refresh tokens, and turning an
//! `Authorization` header into a [`Viewer`].

pub mod jwt;
pub mod password;
pub mod token;
pub mod viewer;

pub use jwt::{AccessTokens, IssuedToken};
pub use password::PasswordHasher;
pub use viewer::{ApiKeyViewer, UserViewer, Viewer};
