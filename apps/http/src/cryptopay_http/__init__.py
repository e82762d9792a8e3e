"""cryptopay REST API (Flask)."""
