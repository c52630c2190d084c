"""Cells of the CSV files people open in a spreadsheet."""

import csv
import io

import pytest

from broker.csv_cells import read_cell, text_cell


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        (
            '=HYPERLINK("http://evil.example","Click")',
            '\'=HYPERLINK("http://evil.example","Click")',
        ),
        ("+44 141 000 0000", "'+44 141 000 0000"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1+1", "'\t=1+1"),
        ("'=1+1", "''=1+1"),  # apostrophes already there are kept, one more added
        ("Green Routes CIC", "Green Routes CIC"),
        ("O'Neill's Cleaning", "O'Neill's Cleaning"),
        ("'quoted'", "'quoted'"),
        ("", ""),
    ],
)
def test_a_formula_is_kept_text_and_reads_back_as_written(text, cell):
    assert text_cell(text) == cell
    assert read_cell(cell) == text
    # Through a real CSV file and back.
    out = io.StringIO()
    csv.writer(out).writerow([text_cell(text)])
    assert read_cell(next(csv.reader(io.StringIO(out.getvalue())))[0]) == text
