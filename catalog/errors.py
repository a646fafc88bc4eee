"""Catalog domain errors (see config/api.py for the protocol: code, http_status)."""


class CatalogError(Exception):
    code = "catalog_error"
    http_status = 400


class ProductInUse(CatalogError):
    code = "product_in_use"
    http_status = 409

    def __init__(self, message="This product is referenced by stock or orders; deactivate it."):
        super().__init__(message)


class CategoryInUse(CatalogError):
    code = "category_in_use"
    http_status = 409

    def __init__(self, message="This category still has products or sub-categories."):
        super().__init__(message)
