"""The one reader of a ``file,identity`` CSV of labelled photos (CLI ``enroll --labels``, web ``labels_csv``)."""

import pytest

from inference.engine.enroll import LabelRow, csv_identities, parse_labels_csv
from privface_core.errors import UserError


def test_rows_keep_their_line_and_are_stripped():
    data = "\ufefffile,identity\n a.jpg , alice \n\nsub/b.jpg,bob\n".encode()
    assert parse_labels_csv(data) == [LabelRow(2, "a.jpg", "alice"), LabelRow(4, "sub/b.jpg", "bob")]


@pytest.mark.parametrize(("data", "message"), [
    (b"name,person\na.jpg,alice\n", "the first line must be the header file,identity"),
    (b"", "the first line must be the header file,identity"),
    (b"file,identity\n", "no photos listed"),
    (b"file,identity\n,alice\n", "line 2: empty file name"),
    (b"file,identity\na.jpg,\n", "line 2: a label must be non-empty"),
    (b"file,identity\na.jpg,a/b\n", "line 2: label 'a/b' must be at most"),
    (b"file,identity\n\xff.jpg,alice\n", "not a readable CSV"),
])
def test_bad_sheets_say_what_is_wrong_in_one_line(data, message):
    with pytest.raises(UserError, match="^" + message.replace("(", r"\(")):
        parse_labels_csv(data)


def test_the_cli_names_the_file_and_keeps_photos_inside_the_folder(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"x")
    sheet = tmp_path / "labels.csv"
    sheet.write_text("file,identity\na.jpg,alice\n")
    total, identities = csv_identities(tmp_path, sheet)
    assert total == 1 and [label for label, _ in identities] == ["alice"]
    sheet.write_text("file,identity\n../a.jpg,alice\n")
    with pytest.raises(UserError, match=r"labels\.csv line 2: \.\./a\.jpg is outside"):
        csv_identities(tmp_path, sheet)
    sheet.write_text("file,identity\n")
    with pytest.raises(UserError, match=r"labels\.csv: no photos listed"):
        csv_identities(tmp_path, sheet)
