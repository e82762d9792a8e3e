"""cryptopay core."""
