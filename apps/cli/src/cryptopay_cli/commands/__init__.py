"""One module per command group; each exposes ``app`` and is listed in ``cryptopay_cli.main._GROUPS``."""
