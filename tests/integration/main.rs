//! Hookpost's integration tests: the real handlers, wired to the real SDK clients, against the
//! AWS-protocol emulator at `AWS_ENDPOINT_URL` and real subscribers on 127.0.0.1.
//! Run them with `make integration` (or `make test`), which starts and stops moto's server.

mod api;
mod browser;
mod cli;
mod console;
mod console_browser;
mod delivery;
mod destinations;
mod events;
mod gateway;
mod hostile;
mod operations;
mod ordered;
mod pipeline;
mod providers;
mod publish;
mod rate_limits;
mod redrive;
mod refusals;
mod routing;
mod secrets;
mod signatures_v1a;
mod support;
