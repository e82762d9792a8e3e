"""The outside review's probes run over the same app and payments stack as the payment resources' tests."""

from __future__ import annotations

from tests.integration.http.http_support import app as app
from tests.integration.http.http_support import auth as auth
from tests.integration.http.http_support import client as client
from tests.integration.http_payments.conftest import hooks as hooks
from tests.integration.http_payments.conftest import rival as rival
from tests.integration.http_payments.conftest import services as services
from tests.integration.http_payments.conftest import shop as shop
from tests.integration.http_payments.conftest import stack as stack
