"""cryptopay operations CLI (Typer)."""
