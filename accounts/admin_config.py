"""The admin app with our site (accounts.admin_site.ShopAdminSite) as `admin.site`."""

from django.contrib.admin.apps import AdminConfig


class ShopAdminConfig(AdminConfig):
    default_site = "accounts.admin_site.ShopAdminSite"
