"""CSV exports: every cell a spreadsheet would run as a formula is defused."""

import csv
import io

import pytest
from django.utils import timezone

from xero.exports import HEALTH_COLUMNS, csv_cell, health_csv_write
from xero.selectors import site_health_list


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+61 2 9999", "'+61 2 9999"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTAB", "'\tTAB"),
        ("\r=1", "'\r=1"),
        ("Acme Pty Ltd", "Acme Pty Ltd"),
        ("a=b", "a=b"),
        (None, ""),
        (3, "3"),
    ],
)
def test_csv_cell_quotes_a_leading_formula_character(value, cell):
    assert csv_cell(value) == cell


def test_the_health_csv_has_a_row_per_site_and_no_secret(site, make_site):
    make_site(name="Modern Pty Ltd", connection_type="custom_connection",
              xero_organisation_name="@evil")  # fmt: skip
    out = io.StringIO()
    health_csv_write(out, sites=site_health_list(), now=timezone.now())
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == HEALTH_COLUMNS
    by_name = {row[0]: dict(zip(HEALTH_COLUMNS, row, strict=True)) for row in rows[1:]}
    assert by_name["Acme Pty Ltd"]["Certificate"] == "None"
    assert by_name["Acme Pty Ltd"]["Last test outcome"] == "Never tested"
    assert by_name["Modern Pty Ltd"]["Certificate"] == "Not used"
    assert by_name["Modern Pty Ltd"]["Xero organisation"] == "'@evil"
    assert site.api_secret not in out.getvalue()
