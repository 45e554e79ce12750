"""Keyword library for the Shop web API and UI.

On real environments the keywords would drive the Shop's REST API; the ``demo``
environment is an in-memory shop with the same business rules, so the whole suite
runs on a laptop or in CI with no network and no test data to clean up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from robot.api import logger

SIMULATED_ENVIRONMENTS = ("demo",)
MAX_LOGIN_ATTEMPTS = 3
CARD_RE = re.compile(r"^\d{16}$")
DECLINED_CARDS = {"4000000000000002"}

CATALOGUE = {
    "Blue T-Shirt": Decimal("19.99"),
    "Coffee Mug": Decimal("8.50"),
    "Running Shoes": Decimal("89.00"),
    "Notebook": Decimal("4.25"),
    "Wireless Headphones": Decimal("129.00"),
}
INITIAL_STOCK = 20
DISCOUNTS = {"WELCOME10": Decimal("10"), "VIP20": Decimal("20")}
EXPIRED_DISCOUNTS = {"SUMMER2023"}
SEEDED_USERS = {"alice": "Secret-123", "bob": "Secret-123"}


class ShopError(AssertionError):
    """A business rule refused the action; the message is what the Shop shows to the user."""

    ROBOT_SUPPRESS_NAME = True


@dataclass
class _Account:
    password: str
    failed_logins: int = 0
    locked: bool = False


@dataclass
class _Order:
    order_id: str
    owner: str
    lines: dict[str, int]
    total: Decimal
    card_last4: str
    discount_code: str | None
    status: str = "PAID"
    refunded: Decimal = field(default_factory=lambda: Decimal("0.00"))


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


class ShopLibrary:
    """Drives the Shop: accounts, catalogue stock, the session's cart and orders.

    One instance per suite (``SUITE`` scope) so suites never see each other's carts,
    which lets them run in parallel with pabot.
    """

    ROBOT_LIBRARY_SCOPE = "SUITE"

    def __init__(self, environment: str = "demo") -> None:
        if environment not in SIMULATED_ENVIRONMENTS:
            raise ValueError(
                f"ShopLibrary simulates only {', '.join(SIMULATED_ENVIRONMENTS)}; got environment '{environment}'"
            )
        self.environment = environment
        self.base_url = ""
        self.reset_shop()

    # ----------------------------------------------------------------- session

    def connect_to_shop(self, base_url: str) -> str:
        """Opens a browser/API session on ``base_url`` and returns the environment name."""
        self.base_url = base_url
        logger.info(f"Connected to {base_url} ({self.environment})")
        return self.environment

    def disconnect_from_shop(self) -> None:
        """Ends the session; the shop data is kept so a failing suite can be inspected."""
        self.sign_out()
        self.base_url = ""

    def reset_shop(self) -> None:
        """Restores the seeded accounts, full stock, an empty cart and no orders."""
        self._accounts = {name: _Account(password) for name, password in SEEDED_USERS.items()}
        self._stock = dict.fromkeys(CATALOGUE, INITIAL_STOCK)
        self._orders: dict[str, _Order] = {}
        self._current_user: str | None = None
        self._cart: dict[str, int] = {}
        self._discount: str | None = None

    # ----------------------------------------------------------------- accounts

    def register_user(self, username: str, password: str) -> None:
        """Creates ``username``, or resets it to a clean, unlocked account with ``password``."""
        self._accounts[username] = _Account(password)

    def authenticate(self, username: str, password: str) -> None:
        """Logs in; a wrong password counts towards the lockout, a locked account always fails."""
        account = self._accounts.get(username)
        if account is None:
            raise ShopError("Invalid username or password")
        if account.locked:
            raise ShopError("Account is locked")
        if account.password != password:
            account.failed_logins += 1
            if account.failed_logins >= MAX_LOGIN_ATTEMPTS:
                account.locked = True
            raise ShopError("Invalid username or password")
        account.failed_logins = 0
        self._current_user = username

    def sign_out(self) -> None:
        """Logs the current user out; the session's cart is emptied with it."""
        self._current_user = None
        self.clear_cart()

    def get_current_user(self) -> str | None:
        """Returns the logged-in user name, or ``None`` for a guest."""
        return self._current_user

    def get_failed_login_count(self, username: str) -> int:
        """Returns the failed logins since the last successful one."""
        return self._account(username).failed_logins

    def is_account_locked(self, username: str) -> bool:
        """Returns whether too many failed logins locked ``username``."""
        return self._account(username).locked

    # ----------------------------------------------------------------- catalogue and cart

    def set_stock(self, product: str, count: int) -> None:
        """Sets the units of ``product`` available for sale (back-office action)."""
        self._product(product)
        self._stock[product] = int(count)

    def get_stock(self, product: str) -> int:
        """Returns the units of ``product`` available for sale."""
        self._product(product)
        return self._stock[product]

    def put_in_cart(self, product: str, quantity: int = 1) -> None:
        """Adds ``quantity`` units of ``product``; the cart may never hold more than the stock."""
        self._product(product)
        quantity = int(quantity)
        if quantity <= 0:
            raise ShopError("Quantity must be a positive whole number")
        wanted = self._cart.get(product, 0) + quantity
        if wanted > self._stock[product]:
            raise ShopError(f"Only {self._stock[product]} left in stock for {product}")
        self._cart[product] = wanted

    def take_out_of_cart(self, product: str) -> None:
        """Removes every unit of ``product`` from the cart."""
        if product not in self._cart:
            raise ShopError(f"{product} is not in the cart")
        del self._cart[product]

    def get_cart_items(self) -> dict[str, int]:
        """Returns the cart as ``{product: quantity}``."""
        return dict(self._cart)

    def get_cart_total(self) -> str:
        """Returns the cart total after discount, as a string with two decimals."""
        return _money(self._total())

    def clear_cart(self) -> None:
        """Empties the cart and drops any applied discount code."""
        self._cart = {}
        self._discount = None

    def redeem_discount(self, code: str) -> None:
        """Applies a discount code to the cart; one code per order."""
        if not self._cart:
            raise ShopError("Cart is empty")
        if self._discount is not None:
            raise ShopError("Only one discount code per order")
        if code in EXPIRED_DISCOUNTS:
            raise ShopError("Discount code expired")
        if code not in DISCOUNTS:
            raise ShopError("Unknown discount code")
        self._discount = code

    # ----------------------------------------------------------------- orders

    def place_order(self, card_number: str) -> str:
        """Pays the cart with ``card_number`` and returns the new order id; the cart is emptied."""
        if self._current_user is None:
            raise ShopError("Please log in to checkout")
        if not self._cart:
            raise ShopError("Cart is empty")
        card_number = str(card_number).replace(" ", "")
        if not CARD_RE.match(card_number):
            raise ShopError("Invalid card number")
        if card_number in DECLINED_CARDS:
            raise ShopError("Payment declined")
        order_id = f"ORD-{len(self._orders) + 1:04d}"
        for product, quantity in self._cart.items():
            self._stock[product] -= quantity
        self._orders[order_id] = _Order(
            order_id=order_id,
            owner=self._current_user,
            lines=dict(self._cart),
            total=self._total(),
            card_last4=card_number[-4:],
            discount_code=self._discount,
        )
        self.clear_cart()
        return order_id

    def get_order(self, order_id: str | None = None) -> dict[str, object]:
        """Returns the order (the latest one when ``order_id`` is empty) as a dictionary."""
        order = self._order(order_id)
        return {
            "id": order.order_id,
            "owner": order.owner,
            "lines": dict(order.lines),
            "total": _money(order.total),
            "status": order.status,
            "refunded": _money(order.refunded),
            "card_last4": order.card_last4,
            "discount_code": order.discount_code,
        }

    def ship_order(self, order_id: str | None = None) -> None:
        """Marks the order as shipped (warehouse action)."""
        order = self._order(order_id)
        if order.status != "PAID":
            raise ShopError(f"Order is {order.status} and cannot be shipped")
        order.status = "SHIPPED"

    def request_cancellation(self, order_id: str | None = None) -> None:
        """Cancels a paid order: refunds the card and puts the products back in stock."""
        order = self._order(order_id)
        if order.status == "SHIPPED":
            raise ShopError("Order already shipped")
        if order.status == "CANCELLED":
            raise ShopError("Order already cancelled")
        order.status = "CANCELLED"
        order.refunded = order.total
        for product, quantity in order.lines.items():
            self._stock[product] += quantity

    # ----------------------------------------------------------------- helpers

    def _account(self, username: str) -> _Account:
        try:
            return self._accounts[username]
        except KeyError:
            raise ShopError(f"Unknown user: {username}") from None

    def _product(self, product: str) -> None:
        if product not in CATALOGUE:
            raise ShopError(f"Unknown product: {product}")

    def _order(self, order_id: str | None) -> _Order:
        if not order_id:
            if not self._orders:
                raise ShopError("No order has been placed in this session")
            return list(self._orders.values())[-1]
        try:
            return self._orders[order_id]
        except KeyError:
            raise ShopError(f"Unknown order: {order_id}") from None

    def _total(self) -> Decimal:
        subtotal = sum((CATALOGUE[p] * q for p, q in self._cart.items()), Decimal("0"))
        if self._discount:
            subtotal -= subtotal * DISCOUNTS[self._discount] / 100
        return subtotal.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
