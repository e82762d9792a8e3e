"""``serve --dev`` publishes where it serves; ``worker --dev`` reads it back (Daraja's callbacks reach that port)."""

from __future__ import annotations

import json

from cryptopay.adapters.bootstrap.web_settings import reachable_url
from cryptopay_cli.commands.sandbox import publish_dev_api, published_dev_api


def test_the_dev_api_url_is_published_while_its_process_lives(tmp_path, monkeypatch):
    """The URL of the port served is read back while the publishing process lives; a dead one's is forgotten."""
    monkeypatch.setenv("CRYPTOPAY_DATA_DIR", str(tmp_path))
    assert published_dev_api() is None
    publish_dev_api(reachable_url("0.0.0.0", 8001))
    assert published_dev_api() == "http://127.0.0.1:8001"
    (tmp_path / "dev-api.json").write_text(json.dumps({"pid": 2**22 + 7, "public_url": "http://127.0.0.1:9"}))
    assert published_dev_api() is None and not (tmp_path / "dev-api.json").exists()
