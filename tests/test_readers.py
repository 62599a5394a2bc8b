"""inspect_file reads a file in blocks: what it says of the encoding and line endings must not
depend on where the blocks fall."""
from pipelines.readers import BLOCK_BYTES, inspect_file


def _facts(tmp_path, data: bytes):
    path = tmp_path / "extract.csv"
    path.write_bytes(data)
    return inspect_file(path)


def test_a_character_split_across_blocks_is_valid_utf8(tmp_path):
    data = b"a" * (BLOCK_BYTES - 1) + "é".encode() + b"\n" + b"b" * BLOCK_BYTES
    assert _facts(tmp_path, data).valid_utf8


def test_a_stray_byte_after_an_ascii_block_is_not_utf8(tmp_path):
    data = b"a\n" * (BLOCK_BYTES // 2) + b"caf\xe9\n"
    assert not _facts(tmp_path, data).valid_utf8


def test_a_lead_byte_before_an_ascii_block_is_not_utf8(tmp_path):
    data = b"a" * (BLOCK_BYTES - 1) + b"\xc3" + b"b\n" * 100
    assert not _facts(tmp_path, data).valid_utf8


def test_crlf_split_across_blocks_is_not_mixed(tmp_path):
    data = b"a" * (BLOCK_BYTES - 1) + b"\r\n" + b"b\r\n" * 10
    assert not _facts(tmp_path, data).mixed_line_endings


def test_crlf_then_bare_lf_in_a_later_block_is_mixed(tmp_path):
    data = b"a\r\n" * (BLOCK_BYTES // 3 + 1) + b"b\n"
    assert _facts(tmp_path, data).mixed_line_endings
