"""cryptopay adapters: implementations of the core ports."""
