"""Inventory domain errors (see config/api.py for the protocol: code, http_status, payload)."""

from dataclasses import dataclass


class InventoryError(Exception):
    code = "inventory_error"
    http_status = 400


class InvalidQuantity(InventoryError):
    code = "invalid_quantity"
    http_status = 400

    def __init__(self, message="Quantities must be whole numbers above zero."):
        super().__init__(message)


class StockItemExists(InventoryError):
    code = "stock_item_exists"
    http_status = 409
    default_message = "This product already has its stock item."

    def __init__(self, message="This product already has its stock item."):
        super().__init__(message)


class InvalidReference(InventoryError):
    code = "invalid_reference"
    http_status = 400

    def __init__(self, message="A reservation needs a reference (the order number)."):
        super().__init__(message)


@dataclass(frozen=True)
class Shortage:
    """One line that cannot be served: how much was asked for and how much is available."""

    product_id: int
    requested: int
    available: int


class InsufficientStock(InventoryError):
    """Not enough stock for one or more lines; nothing was written."""

    code = "insufficient_stock"
    http_status = 409

    def __init__(self, shortages, message="Not enough stock for some items."):
        self.shortages = list(shortages)
        super().__init__(message)

    def payload(self) -> dict:
        return {
            "lines": [
                {"product": s.product_id, "requested": s.requested, "available": s.available}
                for s in self.shortages
            ]
        }

    @classmethod
    def raise_if_short(cls, demand: dict[int, int], available: dict[int, int]) -> None:
        """Raise listing every product whose demand exceeds what is available (by product id)."""
        shortages = [
            Shortage(product_id, requested, available.get(product_id, 0))
            for product_id, requested in sorted(demand.items())
            if requested > available.get(product_id, 0)
        ]
        if shortages:
            raise cls(shortages)
