"""Variables for the ``demo`` environment, selected with ``-v ENV:demo``.

One file per environment (``variables/<ENV>.py``) keeps URLs and test data out of
the suites, so the same tests run against demo, staging or production-like shops.
"""

SHOP_URL = "https://shop.demo.example.com"
DEFAULT_PASSWORD = "Secret-123"
VALID_CARD = "4111111111111111"
DECLINED_CARD = "4000000000000002"
DEFAULT_PRODUCT = "Blue T-Shirt"
MAX_LOGIN_ATTEMPTS = 3
