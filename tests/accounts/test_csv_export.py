import pytest

from core.csv_export import csv_lines, safe_cell


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("+46701234567", "+46701234567"),
        ("-12", "-12"),
        ("hello", "hello"),
        (None, ""),
        (3, 3),
    ],
)
def test_cells_a_spreadsheet_would_run_are_quoted(value, cell):
    assert safe_cell(value) == cell


def test_lines_are_produced_lazily_one_per_row():
    def rows():
        yield ["a", 1]
        raise AssertionError("only the first row may be read before the first line is sent")

    lines = csv_lines(["name", "n"], rows())
    assert next(lines) == "name,n\r\n"
    assert next(lines) == "a,1\r\n"
