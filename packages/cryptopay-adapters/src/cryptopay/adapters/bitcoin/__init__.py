"""Bitcoin adapter: BIP84 deposit addresses, an Esplora client and watcher, P2WPKH withdrawals (bitcoinlib)."""

from cryptopay.adapters._hd import bitcoinlib_home

bitcoinlib_home()  # before any module of this package imports bitcoinlib: keep its data dir inside ours
