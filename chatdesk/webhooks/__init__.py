"""Signed webhooks from Shopify and WooCommerce (CONTRACT section 4), mapped onto carts and orders."""
