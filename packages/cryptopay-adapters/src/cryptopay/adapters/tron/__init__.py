"""Tron adapter: deposit addresses from an account xpub, TRC20 watching over a TronGrid-compatible API, sending."""

from cryptopay.adapters._hd import bitcoinlib_home

bitcoinlib_home()  # before any module of this package imports bitcoinlib: keep its data dir inside ours
