"""cryptopay background jobs (RQ)."""
