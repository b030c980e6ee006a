"""The widget a store page downloads before the chat opens stays within 25 KB gzipped."""
import gzip

from .widget_browser import ROOT

BUDGET = 25 * 1024


def test_the_shipped_widget_script_fits_the_budget_gzipped():
    script = (ROOT / "static" / "shopper_widget" / "widget.js").read_bytes()
    size = len(gzip.compress(script, 6))
    assert size <= BUDGET, f"widget.js is {size} bytes gzipped; the budget is {BUDGET}"
