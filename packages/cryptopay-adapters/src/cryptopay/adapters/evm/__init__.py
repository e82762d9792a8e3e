"""EVM chains (Ethereum, Polygon, BSC) over web3.py: deposit addresses, transfer watching, withdrawals, sweeps."""
