//! End-to-end tests (filled in next commit).
