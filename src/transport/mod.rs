//! The HTTP layer under [`vod`](crate::vod) and [`cos`](crate::cos): the shared HTTP client, response-size caps,
//! redirect refusal, the plain-HTTP warning, endpoint parsing and region validation, and the clock.
//!
//! Data flows one way through the crate: `credential -> sign -> transport -> vod / cos -> upload -> client`.
//! Both API clients send through the helpers here, so neither borrows from the other.
//!
//! - [`http`]: the body cap (`http::MAX_RESPONSE_BODY`), the redirect errors and the "credentials over plain HTTP"
//!   warning;
//! - `net`: the crate's one `reqwest::Client` constructor (rustls, timeouts, no redirects, HTTP/1.1, TLS roots and
//!   forward proxies) and the typed TLS / proxy errors;
//! - [`endpoint`]: endpoint URLs (`https://host[:port]`), `Host` authorities, loopback detection and region names;
//! - [`clock`]: the one [`Clock`] (local time plus the learned offset to server time) every signature and expiry
//!   check reads.

pub(crate) mod clock;
pub(crate) mod endpoint;
pub(crate) mod http;

pub(crate) mod net;

pub use clock::{Clock, TimeSource};
