"""Point bitcoinlib's data directory inside the project's data dir before any test module imports bitcoinlib."""

from cryptopay.adapters._hd import bitcoinlib_home

bitcoinlib_home()
