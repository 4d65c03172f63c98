"""Published checksum files: bare digests and sha256sum lines."""

from __future__ import annotations

import pytest

from kubexms.artifacts import ChecksumUnavailableError, parse_checksum_file

A = "a" * 64
B = "b" * 64


def test_a_bare_digest_is_the_files_digest() -> None:
    assert parse_checksum_file(f"{A}\n", "kubelet", "u") == A
    assert parse_checksum_file(A.upper(), "kubelet", "u") == A


def test_sha256sum_lines_are_matched_by_file_name() -> None:
    text = f"{A}  etcd-v3.5.16-linux-arm64.tar.gz\n{B}  etcd-v3.5.16-linux-amd64.tar.gz\n"
    assert parse_checksum_file(text, "etcd-v3.5.16-linux-amd64.tar.gz", "u") == B
    assert parse_checksum_file(f"{A} *bin/runc.amd64\n", "runc.amd64", "u") == A
    assert parse_checksum_file(f"{A}  helm.tar.gz\n", "helm.tar.gz", "u") == A


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"{A}  other.tar.gz\n", "has no sha256 for wanted.tar.gz"),
        ("<html>not found</html>", "is not a sha256 checksum file"),
        ("", "has no sha256 for wanted.tar.gz"),
        (f"{A}\n{B}\n", "has no sha256 for wanted.tar.gz"),
        (f"{A}  wanted.tar.gz\n{B}  wanted.tar.gz\n", "with different digests"),
    ],
)
def test_files_without_one_clear_answer_are_refused(text: str, message: str) -> None:
    with pytest.raises(ChecksumUnavailableError) as caught:
        parse_checksum_file(text, "wanted.tar.gz", "http://127.0.0.1/sums")
    assert message in str(caught.value)
    assert "http://127.0.0.1/sums" in str(caught.value)
