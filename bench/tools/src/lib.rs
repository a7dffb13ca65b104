//! The pure parts of `make bench`'s system benchmarks, here so that `make unit` tests them (a
//! bench target's own tests never run).

pub mod capacity;
