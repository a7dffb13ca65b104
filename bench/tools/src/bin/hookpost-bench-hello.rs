//! A bare `lambda_runtime` function that echoes its event: what a Rust function costs to start
//! before it builds any client. `make bench` measures the functions beside it (benches/coldstart).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<_, Error>(event.payload)
    }))
    .await
}
