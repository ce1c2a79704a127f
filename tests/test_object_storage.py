"""URLs: an S3 server (moto's, on 127.0.0.1, started by a fixture) and ``file://``.

The reference for a remote result is the same files scored from the local disk: every JSON
number must be equal, and messages and worst rows must name the URLs.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

import cecli

BUCKET = "scores"


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, Any]]:
    """A real S3-compatible server on loopback; the storage options that reach it."""
    from moto.server import ThreadedMotoServer

    with pytest.MonkeyPatch.context() as patch:
        # No credentials, profiles or instance metadata of the machine take part.
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.setenv("AWS_CONFIG_FILE", os.devnull)
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        patch.setenv("NO_PROXY", "127.0.0.1")
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            options = {"endpoint_url": f"http://{host}:{port}", "key": "testing",
                       "secret": "testing"}  # fmt: skip
            import s3fs

            fs = s3fs.S3FileSystem(**options)
            fs.mkdir(BUCKET)
            yield {"options": options, "fs": fs}
        finally:
            server.stop()


def _frame(rows: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    raw = rng.random((rows, 4)) + 0.01
    probs = raw / raw.sum(axis=1, keepdims=True)
    return pl.DataFrame(
        {"label": rng.integers(0, 4, rows), **{f"p{i}": probs[:, i] for i in range(4)},
         "w": rng.integers(1, 5, rows).astype(np.float64)}
    )  # fmt: skip


def _numbers(document: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in document.items() if k not in ("worst", "source")})


@pytest.fixture(scope="module")
def parts(s3: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three Parquet parts (``parts/``) and a gzip CSV (``csv/``), on disk and in the bucket."""
    folder = tmp_path_factory.mktemp("parts")
    paths = []
    for number in range(3):
        path = folder / f"part-{number}.parquet"
        _frame(200 + 50 * number, seed=number).write_parquet(path)
        paths.append(path)
    packed = folder / "all.csv.gz"
    packed.write_bytes(gzip.compress(_frame(300, seed=9).write_csv().encode()))
    for path in paths:
        s3["fs"].put(str(path), f"{BUCKET}/parts/{path.name}")
    s3["fs"].put(str(packed), f"{BUCKET}/csv/{packed.name}")
    s3["fs"].pipe(f"{BUCKET}/parts/_SUCCESS", b"")
    return [*paths, packed]


def test_a_glob_of_parquet_parts_in_s3_scores_as_on_disk(
    s3: dict[str, Any], parts: list[Path]
) -> None:
    local = cecli.score_file([str(p) for p in parts[:3]], weight_col="w", by_file=True)
    remote = cecli.score_file(
        f"s3://{BUCKET}/parts/part-*.parquet", weight_col="w", by_file=True,
        storage_options=s3["options"],
    )  # fmt: skip
    local_doc, remote_doc = local.to_json(), remote.to_json()
    for document in (local_doc, remote_doc):
        document.pop("files")
    assert _numbers(remote_doc) == _numbers(local_doc)
    urls = [f"s3://{BUCKET}/parts/part-{n}.parquet" for n in range(3)]
    assert [f.source for f in remote.files] == urls
    assert [f.loss for f in remote.files] == [f.loss for f in local.files]
    names = {str(p): url for p, url in zip(parts, urls, strict=False)}
    assert [(r.file, r.line, r.loss) for r in remote.worst] == [
        (names[r.file], r.line, r.loss) for r in local.worst
    ]
    assert remote.source == f"s3://{BUCKET}/parts/part-*.parquet (3 files)"


def test_a_gzip_csv_object_and_a_folder_of_parts(s3: dict[str, Any], parts: list[Path]) -> None:
    packed = cecli.score_file(
        f"s3://{BUCKET}/csv/all.csv.gz", storage_options=s3["options"]
    ).to_json()
    assert _numbers(packed) == _numbers(cecli.score_file(str(parts[3])).to_json())
    assert packed["source"] == f"s3://{BUCKET}/csv/all.csv.gz"
    folder = cecli.score_file(f"s3://{BUCKET}/parts/", storage_options=s3["options"], by_file=True)
    assert [f.source for f in folder.files] == [
        f"s3://{BUCKET}/parts/part-{n}.parquet" for n in range(3)
    ]  # _SUCCESS is a marker, not a part
    listed = cecli.score_file([str(p) for p in parts[:3]])
    assert folder.loss == listed.loss
    assert folder.rows == listed.rows


def test_a_bad_value_in_an_object_is_named_by_its_url(s3: dict[str, Any]) -> None:
    s3["fs"].pipe(f"{BUCKET}/bad/a.csv", b"label,p0,p1\n0,0.5,0.5\n1,0.2,zz\n")
    with pytest.raises(cecli.InputError) as raised:
        cecli.score_file(f"s3://{BUCKET}/bad/a.csv", storage_options=s3["options"])
    assert str(raised.value) == f"s3://{BUCKET}/bad/a.csv:3:3: 'zz' is not a number"


def test_missing_objects_and_empty_globs_are_one_error_each(s3: dict[str, Any]) -> None:
    options = s3["options"]
    with pytest.raises(cecli.InputError, match=r"^s3://scores/none\.csv: no such file$"):
        cecli.score_file(f"s3://{BUCKET}/none.csv", storage_options=options)
    with pytest.raises(cecli.InputError, match=r"^s3://scores/x-\*\.csv: no file matches"):
        cecli.score_file(f"s3://{BUCKET}/x-*.csv", storage_options=options)
    unreachable = {
        **options, "endpoint_url": "http://127.0.0.1:9",
        "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 2},
    }  # fmt: skip
    with pytest.raises(cecli.InputError, match=r"^s3://scores/a\.csv: cannot read \(.*\)$"):
        cecli.score_file(f"s3://{BUCKET}/a.csv", storage_options=unreachable)


def test_a_bucket_that_is_not_there_is_named(
    s3: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    from cecli.cli import main

    options = s3["options"]
    for url in ("s3://no-such-bucket/a.csv", "s3://no-such-bucket/part-*.parquet"):
        with pytest.raises(cecli.InputError) as raised:
            cecli.score_file(url, storage_options=options)
        assert str(raised.value) == f"{url}: no bucket named 'no-such-bucket'"
    settings = [f"--storage-option={key}={value}" for key, value in options.items()]
    assert main(["ce", "--csv", "s3://no-such-bucket/a.csv", *settings, "-q"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert (
        captured.err
        == "cecli: error: s3://no-such-bucket/a.csv: no bucket named 'no-such-bucket'\n"
    )


def test_a_glob_takes_its_files_from_the_listing(s3: dict[str, Any], parts: list[Path]) -> None:
    # An anonymous client may list this bucket but not read its objects (moto refuses HEAD and
    # GET without a signature): the matches are files, and the error is the refused read, not
    # "no file matches" from asking each match again whether it is a file.
    anonymous = {"endpoint_url": s3["options"]["endpoint_url"], "anon": True}
    with pytest.raises(
        cecli.InputError, match=r"^s3://scores/parts/part-0\.parquet: cannot read \(Forbidden\)$"
    ):
        cecli.score_file(f"s3://{BUCKET}/parts/part-*.parquet", storage_options=anonymous)


def test_no_credentials_is_one_error_line(
    s3: dict[str, Any],
    parts: list[Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # As README.md says: without credentials even a local server's objects cannot be read.
    from cecli.cli import main

    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    endpoint = s3["options"]["endpoint_url"]
    url = f"s3://{BUCKET}/parts/part-*.parquet"
    code = main(["ce", "--parquet", url, "--storage-option", f"endpoint_url={endpoint}", "-q"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err == f"cecli: error: {url}: cannot read (Unable to locate credentials)\n"


def test_file_urls_read_local_files_without_fsspec(tmp_path: Path) -> None:
    path = tmp_path / "a b.csv"
    path.write_text("label,p0,p1\n0,0.25,0.75\n1,0.5,0.5\n")
    glob_url = f"file://{tmp_path}/a*.csv"
    script = (
        "import sys, cecli\n"
        f"s = cecli.score_file({glob_url!r})\n"
        f"t = cecli.score_file({str(path)!r})\n"
        "assert s.loss == t.loss, (s.loss, t.loss)\n"
        "print(s.source)\n"
        "cloud = [m for m in ('fsspec', 's3fs', 'botocore', 'aiohttp') if m in sys.modules]\n"
        "assert not cloud, cloud\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"file://{path}\n"


def test_parquet_parts_in_s3_on_a_two_worker_cluster(s3: dict[str, Any], parts: list[Path]) -> None:
    pytest.importorskip("distributed")  # installed by the test extra: never skipped in CI
    url = f"s3://{BUCKET}/parts/part-*.parquet"
    options = {"weight_col": "w", "by_file": True, "storage_options": s3["options"]}
    single = cecli.score_file(url, **options)
    on_cluster = cecli.score_file(url, **options, dask="local:2")
    assert json.dumps(on_cluster.to_json()) == json.dumps(single.to_json())


def test_storage_options_from_key_value_settings() -> None:
    from cecli.sources import parse_storage_options

    assert parse_storage_options(
        ["endpoint_url=http://127.0.0.1:9000", "anon=True", "client_kwargs.region_name=eu",
         "default_block_size=1048576", "profile=a=b"]
    ) == {
        "endpoint_url": "http://127.0.0.1:9000", "anon": True,
        "client_kwargs": {"region_name": "eu"}, "default_block_size": 1048576,
        "profile": "a=b",
    }  # fmt: skip
    for bad in ("endpoint_url", "=x"):
        with pytest.raises(cecli.InputError, match="is not KEY=VALUE") as raised:
            parse_storage_options([bad])
        assert raised.value.parameter == "storage_options"


def test_storage_options_on_the_command_line(
    s3: dict[str, Any], parts: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from cecli.cli import main

    options = s3["options"]
    settings = [f"--storage-option={k}={v}" for k, v in options.items()]
    url = f"s3://{BUCKET}/parts/part-*.parquet"
    assert main(["ce", "--parquet", url, *settings, "--weight-col", "w", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    remote = cecli.score_file(url, weight_col="w", storage_options=options)
    assert json.dumps(document) == json.dumps(remote.to_json())
    assert main(["ce", "--parquet", url, "--storage-option", "endpoint_url"]) == 2
    assert capsys.readouterr().err == (
        "cecli: error: --storage-option: 'endpoint_url' is not KEY=VALUE\n"
    )
