"""Scoring on a real Dask cluster (a LocalCluster of worker processes) gives, bit for bit,
the JSON of one process: for 1, 2 and 3 workers, any task order, CSV cut into byte ranges
and Parquet into row groups, weights, skipped rows, class names and several files.

The reference is always ``cecli.score_file`` without ``dask``, the single-process path,
whose numbers other tests check against the mpmath oracle.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

import cecli
from cecli import distributed, parts
from cecli.distributed import Block
from cecli.scoring import ScoringProgress

pytest.importorskip("distributed")  # installed by the test extra: never skipped in CI

from distributed import Client, LocalCluster

CLASSES = ("cat", "dog", "eel", "fox")


@contextlib.contextmanager
def _two_workers() -> Iterator[tuple[LocalCluster, Client]]:
    """A local cluster of two one-thread worker processes, and a client of it."""
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=50,
        ) as local,  # fmt: skip
        Client(local) as client,
    ):
        yield local, client


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[LocalCluster, Client]]:
    with _two_workers() as started:
        yield started


def _workers(cluster: tuple[LocalCluster, Client], count: int) -> str:
    """The cluster scaled to ``count`` workers; its address."""
    local, client = cluster
    local.scale(count)
    deadline = time.monotonic() + 60
    while len(client.scheduler_info(n_workers=-1)["workers"]) != count:
        assert time.monotonic() < deadline, "the cluster did not scale"
        time.sleep(0.1)
    address: str = local.scheduler_address
    return address


def _frame(rows: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    raw = rng.random((rows, len(CLASSES))) + 0.01
    probs = raw / raw.sum(axis=1, keepdims=True)
    return pl.DataFrame(
        {
            "id": [f"r{seed}-{i}" for i in range(rows)],
            "label": [CLASSES[i] for i in rng.integers(0, len(CLASSES), rows)],
            **{name: probs[:, i] for i, name in enumerate(CLASSES)},
            "w": rng.integers(0, 4, rows).astype(np.float64),
        }
    )


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Three inputs of the same rows as CSV and as Parquet (row groups of 40 rows); the
    second has invalid values (one a probability above 1, one not a number)."""
    folder = tmp_path_factory.mktemp("inputs")
    csv_files, parquet_files = [], []
    for number, rows in enumerate((700, 900, 500)):
        frame = _frame(rows, seed=number)
        if number == 1:
            frame = frame.with_columns(
                pl.when(pl.int_range(pl.len()).is_in([37, 650]))
                .then(pl.lit(1.5))
                .otherwise(pl.col("dog"))
                .alias("dog")
            )
        path = folder / f"part-{number}"
        frame.write_csv(f"{path}.csv")
        frame.write_parquet(f"{path}.parquet", row_group_size=40)
        csv_files.append(f"{path}.csv")
        parquet_files.append(f"{path}.parquet")
    return {"csv": csv_files, "parquet": parquet_files}


OPTIONS: dict[str, Any] = {
    "class_names": CLASSES, "label_col": "label", "pred_cols": ",".join(CLASSES),
    "weight_col": "w", "id_col": "id", "skip_invalid": True, "by_file": True,
}  # fmt: skip


def _same(one: cecli.BatchSummary, other: cecli.BatchSummary) -> None:
    """Every number and name of the JSON, as text: equal floats print the same digits."""
    assert json.dumps(other.to_json()) == json.dumps(one.to_json())


@pytest.fixture(autouse=True)
def small_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of a few KiB (CSV) and 3 row groups (Parquet): many tasks per file."""
    monkeypatch.setattr(distributed, "TASK_BYTES", 9_000)
    monkeypatch.setattr(distributed, "TASK_ROWS", 120)


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_the_cluster_gives_the_single_process_json_bit_for_bit(
    cluster: tuple[LocalCluster, Client], inputs: dict[str, list[str]], workers: int
) -> None:
    address = _workers(cluster, workers)
    for kind in ("csv", "parquet"):
        files = inputs[kind]
        for options in (OPTIONS, {**OPTIONS, "reduction": "sum"}):
            single = cecli.score_file(files, **options)
            assert single.skipped == 2
            _same(single, cecli.score_file(files, **options, dask=address))
        one_file = {k: v for k, v in OPTIONS.items() if k != "by_file"}  # no file names
        _same(
            cecli.score_file(files[1], **one_file),
            cecli.score_file(files[1], **one_file, dask=address),
        )
    _workers(cluster, 2)


def test_a_csv_file_within_a_task_is_read_whole_and_agrees(
    cluster: tuple[LocalCluster, Client],
    inputs: dict[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Files of at most 1.5 tasks' bytes are one task each, read from the file itself."""
    address = _workers(cluster, 2)
    monkeypatch.setattr(distributed, "TASK_BYTES", 1 << 20)
    planned: list[Block] = []
    original = distributed._plan

    def plan(*args: Any, **kwargs: Any) -> list[Block]:
        planned.extend(original(*args, **kwargs))
        return planned

    monkeypatch.setattr(distributed, "_plan", plan)
    files = inputs["csv"]
    single = cecli.score_file(files, **OPTIONS, output=str(tmp_path / "one.csv"))
    _same(single, cecli.score_file(files, **OPTIONS, dask=address, output=f"{tmp_path}/p/"))
    assert [block.span for block in planned] == [None, None, None]
    parts = sorted((tmp_path / "p").glob("part-*.csv"))
    assert b"".join(p.read_bytes() for p in parts) == (tmp_path / "one.csv").read_bytes()


def test_csv_and_parquet_agree_and_any_task_order_gives_the_same(
    cluster: tuple[LocalCluster, Client], inputs: dict[str, list[str]]
) -> None:
    from cecli.scoring import Job, describe_inputs, expand_inputs

    address = _workers(cluster, 2)
    results: dict[str, Any] = {}
    for kind in ("csv", "parquet"):
        specs, files = expand_inputs(inputs[kind], {})
        job = Job(
            loss="ce", options={"reduction": "mean"}, names=CLASSES, label_col="label",
            label_cols=None, pred_cols=",".join(CLASSES), weight_col="w", id_col="id",
            delimiter=None, kind=None, skip_invalid=True, storage_options={},
        )  # fmt: skip
        orders: list[Callable[[list[Block]], list[Block]] | None] = [
            None,
            lambda blocks: blocks[::-1],
            lambda blocks: random.Random(7).sample(blocks, len(blocks)),
        ]
        found = [
            distributed.score_on_dask(
                job,
                files,
                describe_inputs(specs, files),
                address=address,
                by_file=True,
                submit_order=order,
            )
            for order in orders
        ]
        for other in found[1:]:
            _same(found[0], other)
        results[kind] = found[0].to_json()
    assert len(distributed.csv_spans(inputs["csv"][1], ",", 9_000)) > 3  # many blocks
    for document in results.values():  # the parts' names differ only by their suffix
        document.pop("source")
        for row in [*document["worst"], *document["files"]]:
            key = "file" if "file" in row else "source"
            row[key] = row[key].rsplit(".", 1)[0]
    for row in results["parquet"]["worst"]:
        row["line"] += 1  # row 1 of a Parquet file is line 2 of a CSV file, after its header
    assert json.dumps(results["csv"]) == json.dumps(results["parquet"])


def _set_exact_limit(rows: int) -> None:
    from cecli import batch

    batch.EXACT_PERCENTILE_ROWS = rows


@pytest.mark.parametrize("limit", [1_500, 2_099])
def test_past_the_exact_percentile_limit_tasks_send_no_values_and_agree(
    cluster: tuple[LocalCluster, Client],
    inputs: dict[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
    limit: int,
) -> None:
    """2,100 records, 2,098 rows scored: past a limit of 1,500 the percentiles come from the
    histogram; with 2,099 the records foretell too many rows, the tasks send no values, and
    the blocks are scored again for them, so that percentiles are exact as on one machine."""
    from cecli import batch

    address = _workers(cluster, 2)
    _, client = cluster
    original = batch.EXACT_PERCENTILE_ROWS
    monkeypatch.setattr(batch, "EXACT_PERCENTILE_ROWS", limit)
    client.run(_set_exact_limit, limit)
    try:
        for kind in ("csv", "parquet"):
            single = cecli.score_file(inputs[kind], **OPTIONS)
            assert single.percentiles_exact == (limit == 2_099)
            _same(single, cecli.score_file(inputs[kind], **OPTIONS, dask=address))
    finally:
        client.run(_set_exact_limit, original)


def test_a_task_state_does_not_grow_with_its_rows_past_the_limit(
    inputs: dict[str, list[str]],
) -> None:
    import pickle

    from cecli.scoring import Job

    job = Job(
        loss="ce", options={"reduction": "mean"}, names=CLASSES, label_col="label",
        label_cols=None, pred_cols=",".join(CLASSES), weight_col="w", id_col="id",
        delimiter=None, kind=None, skip_invalid=True, storage_options={},
    )  # fmt: skip
    from cecli.sources import InputFile

    path = inputs["csv"][0]
    spans = distributed.csv_spans(path, ",", 1_000)
    small = Block(0, 0, (InputFile(path),), span=spans[0])
    whole = Block(0, 0, (InputFile(path),), span=(spans[0][0], spans[-1][1]))
    sizes = {}
    for keep in (True, False):
        states = [distributed.score_block(job, block, False, keep_values=keep)
                  for block in (small, whole)]  # fmt: skip
        extra_rows = states[1].accumulator.rows - states[0].accumulator.rows
        assert extra_rows > 500
        sizes[keep] = [len(pickle.dumps(state)) for state in states]
    assert sizes[True][1] - sizes[True][0] >= 8 * extra_rows  # the values travel
    assert abs(sizes[False][1] - sizes[False][0]) < 1_000  # a fixed size: the histogram


def test_the_first_bad_record_in_input_order_is_the_error(
    cluster: tuple[LocalCluster, Client], inputs: dict[str, list[str]], tmp_path: Path
) -> None:
    address = _workers(cluster, 2)
    strict = {k: v for k, v in OPTIONS.items() if k not in ("skip_invalid", "by_file")}
    for kind in ("csv", "parquet"):
        with pytest.raises(cecli.InputError) as single:
            cecli.score_file(inputs[kind], **strict)
        with pytest.raises(cecli.InputError) as on_cluster:
            cecli.score_file(inputs[kind], **strict, dask=address)
        assert str(on_cluster.value) == str(single.value)
    # A bad value deep in the first file (its 9th block) and one early in the last: the
    # first file's is reported, at its line in the file, although a later block fails first.
    late = tmp_path / "late.csv"
    text = Path(inputs["csv"][0]).read_text().splitlines()
    text[600] = text[600].replace(",", ",x", 3)
    late.write_text("\n".join(text) + "\n")
    files = [str(late), inputs["csv"][1]]
    with pytest.raises(cecli.InputError) as single:
        cecli.score_file(files, **strict)
    assert f"{late}:601:" in str(single.value)
    with pytest.raises(cecli.InputError) as on_cluster:
        cecli.score_file(files, **strict, dask=address)
    assert str(on_cluster.value) == str(single.value)
    # Nothing of the failed run is left on the cluster (its tasks cancelled and released).
    _, client = cluster
    deadline = time.monotonic() + 30
    while client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)):
        assert time.monotonic() < deadline, "tasks of the failed run are still on the cluster"
        time.sleep(0.05)


def test_a_part_unreadable_on_the_workers_is_one_error(
    cluster: tuple[LocalCluster, Client], inputs: dict[str, list[str]], tmp_path: Path
) -> None:
    """A file gone between planning and reading (as one a worker cannot read): one line
    naming it, and no part folder left."""
    address = _workers(cluster, 2)
    doomed = tmp_path / "doomed.csv"
    doomed.write_bytes(Path(inputs["csv"][0]).read_bytes())
    planned: list[Block] = []

    def remove_it(blocks: list[Block]) -> list[Block]:
        planned.extend(blocks)
        doomed.unlink()
        return blocks

    from cecli.scoring import Job, describe_inputs, expand_inputs

    specs, files = expand_inputs([inputs["csv"][2], str(doomed)], {})
    job = Job(
        loss="ce", options={"reduction": "none"}, names=CLASSES, label_col="label",
        label_cols=None, pred_cols=",".join(CLASSES), weight_col="w", id_col="id",
        delimiter=None, kind=None, skip_invalid=True, storage_options={},
    )  # fmt: skip
    from cecli.parts import row_output

    with pytest.raises(cecli.InputError) as raised:
        distributed.score_on_dask(
            job, files, describe_inputs(specs, files), address=address, submit_order=remove_it,
            rows=row_output(f"{tmp_path}/rows/", None),
        )  # fmt: skip
    assert len(planned) > 3
    assert str(raised.value) == (
        f"{doomed}: cannot read on the cluster's worker (No such file or directory)"
    )
    assert os.listdir(tmp_path) == []


def test_a_folder_the_workers_cannot_write_is_one_error(
    cluster: tuple[LocalCluster, Client], inputs: dict[str, list[str]], tmp_path: Path
) -> None:
    """As on a cluster whose workers do not share the client's disk: the staging folder is
    not there for them."""
    import shutil

    address = _workers(cluster, 2)

    def hide_the_folder(blocks: list[Block]) -> list[Block]:
        for name in os.listdir(tmp_path):
            shutil.rmtree(tmp_path / name)
        return blocks

    from cecli.parts import row_output
    from cecli.scoring import Job, describe_inputs, expand_inputs

    specs, files = expand_inputs(inputs["csv"], {})
    job = Job(
        loss="ce", options={"reduction": "none"}, names=CLASSES, label_col="label",
        label_cols=None, pred_cols=",".join(CLASSES), weight_col="w", id_col="id",
        delimiter=None, kind=None, skip_invalid=True, storage_options={},
    )  # fmt: skip
    with pytest.raises(cecli.InputError) as raised:
        distributed.score_on_dask(
            job, files, describe_inputs(specs, files), address=address,
            submit_order=hide_the_folder, rows=row_output(f"{tmp_path}/rows/", None),
        )  # fmt: skip
    message = str(raised.value)
    assert message.startswith(f"output: cannot write a part in {tmp_path}/.rows.staging-")
    assert message.endswith(
        " (No such file or directory); on a cluster the workers must be able to write that folder"
    )
    assert raised.value.parameter == "output"
    assert os.listdir(tmp_path) == []


def test_the_scheduler_comes_from_dask_configuration(
    cluster: tuple[LocalCluster, Client],
    inputs: dict[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import dask

    address = _workers(cluster, 2)
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", address)
    dask.config.refresh()
    try:
        summary = cecli.score_file(inputs["parquet"][0], **OPTIONS, dask="auto")
    finally:
        monkeypatch.delenv("DASK_SCHEDULER_ADDRESS")
        dask.config.refresh()
    _same(cecli.score_file(inputs["parquet"][0], **OPTIONS), summary)
    with pytest.raises(cecli.InputError, match="no scheduler address; set DASK_SCHEDULER"):
        cecli.score_file(inputs["parquet"][0], dask="auto")


def test_a_tls_scheduler_is_reached_with_dask_security_configuration(
    inputs: dict[str, list[str]], tmp_path: Path
) -> None:
    # A scheduler that speaks TLS only, with certificates made for the test; cecli is given
    # nothing but the address: the certificates reach it as Dask's own configuration does.
    pytest.importorskip("cryptography")  # what Security.temporary() makes certificates with
    from distributed.security import Security

    security = Security.temporary()
    pem = {}
    for name in ("tls_ca_file", "tls_client_cert", "tls_client_key"):
        pem[name] = tmp_path / f"{name}.pem"
        pem[name].write_text(getattr(security, name))
    environment = {
        **os.environ,
        "DASK_DISTRIBUTED__COMM__TLS__CA_FILE": str(pem["tls_ca_file"]),
        "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT": str(pem["tls_client_cert"]),
        "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY": str(pem["tls_client_key"]),
        "DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION": "True",
    }
    args = ["ce", "--parquet", inputs["parquet"][0], "--label-col", "label", "--pred-cols",
            ",".join(CLASSES), "--classes", ",".join(CLASSES), "--weight-col", "w",
            "--skip-invalid", "--json"]  # fmt: skip
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, protocol="tls://",
        security=security, dashboard_address=":0", silence_logs=50,
    ) as local:  # fmt: skip
        address = local.scheduler_address
        assert address.startswith("tls://")
        on_cluster = subprocess.run(
            ["cecli", *args, "--dask", address], capture_output=True, text=True, check=False,
            timeout=180, env=environment,
        )  # fmt: skip
        without = {k: v for k, v in environment.items() if "__TLS__" not in k}
        refused = subprocess.run(
            ["cecli", *args, "--dask", address], capture_output=True, text=True, check=False,
            timeout=180, env={**without, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "5s"},
        )  # fmt: skip
    assert on_cluster.returncode == 0, on_cluster.stderr
    single = subprocess.run(
        ["cecli", *args], capture_output=True, text=True, check=True, timeout=180
    )
    assert json.loads(on_cluster.stdout) == json.loads(single.stdout)
    # Without the certificates: one line saying what is missing, not distributed's TypeError.
    assert refused.returncode == 2
    assert refused.stderr.startswith("cecli: error: --dask: tls://"), refused.stderr
    assert "no certificates (distributed.comm.tls.ca-file" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr


def test_dask_on_the_command_line(
    cluster: tuple[LocalCluster, Client],
    inputs: dict[str, list[str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    from cecli.cli import main

    address = _workers(cluster, 2)
    args = ["ce", "--label-col", "label", "--pred-cols", ",".join(CLASSES), "--classes",
            ",".join(CLASSES), "--weight-col", "w", "--skip-invalid", "--by-file",
            "--json"]  # fmt: skip
    files = [a for f in inputs["parquet"] for a in ("--parquet", f)]
    assert main([*args, *files]) == 0
    single = capsys.readouterr().out
    assert main([*args, *files, "--dask", address]) == 0
    captured = capsys.readouterr()
    assert captured.out == single
    assert main(["ce", *files, "--reduction", "none", "--dask", address]) == 2
    assert capsys.readouterr().err == (
        "cecli: error: per-row values from a cluster go to --output (a file, or a folder "
        "ending in /), not to stdout\n"
    )


def test_per_row_parts_on_the_cluster_are_the_file_of_one_machine(
    cluster: tuple[LocalCluster, Client], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cecli import parts
    from cecli.cli import main

    address = _workers(cluster, 2)
    files = _per_row_inputs(tmp_path, invalid_head=True)
    args = ["ce", *[a for f in files for a in ("--csv", f)], "--keep", "note", "--skip-invalid",
            "--columns", "pred", "--reduction", "none", "--json"]  # fmt: skip
    assert main([*args, "--output", str(tmp_path / "one.csv")]) == 0
    single = capsys.readouterr().out
    expected = (tmp_path / "one.csv").read_bytes()
    assert main([*args, "--output", f"{tmp_path}/parts/", "--dask", address]) == 0
    assert capsys.readouterr().out == single
    manifest = json.loads((tmp_path / "parts" / parts.MANIFEST).read_text())
    assert len(manifest["parts"]) > 6  # many blocks of each file
    # The first block had no rows to write: no part, and the header in the next one.
    assert not (tmp_path / "parts" / "part-00000.csv").exists()
    assert manifest["parts"][0]["name"] != "part-00000.csv"
    assert all(p["rows"] > 0 for p in manifest["parts"])
    assert sorted(os.listdir(tmp_path / "parts")) == sorted(
        ["_manifest.json", *[p["name"] for p in manifest["parts"]]]
    )
    assert manifest["summary"] == json.loads(single)
    found = b"".join((tmp_path / "parts" / p["name"]).read_bytes() for p in manifest["parts"])
    assert found == expected
    assert sum(p["rows"] for p in manifest["parts"]) == json.loads(single)["rows"]
    # One file from the cluster: the parts put together at the client.
    assert main([*args, "--output", str(tmp_path / "cluster.csv"), "--dask", address]) == 0
    assert capsys.readouterr().out == single
    assert (tmp_path / "cluster.csv").read_bytes() == expected
    # Parquet parts: the same rows.
    assert main([*args, "--output", f"{tmp_path}/pq.parquet/", "--dask", address]) == 0
    capsys.readouterr()
    manifest = json.loads((tmp_path / "pq.parquet" / parts.MANIFEST).read_text())
    frame = pl.concat(
        [
            pl.read_parquet(tmp_path / "pq.parquet" / p["name"])
            for p in manifest["parts"]
            if p["rows"]
        ]
    )
    reference = pl.read_csv(tmp_path / "one.csv")
    for column in ("line", "loss", "pred", "note"):
        assert frame[column].to_list() == reference[column].to_list()
    left = sorted(os.listdir(tmp_path))
    assert left == ["cluster.csv", "in-0.csv", "in-1.csv", "one.csv", "parts", "pq.parquet"]


def _per_row_inputs(folder: Path, *, invalid_head: bool = False) -> list[str]:
    """Two CSV files without an id (rows are named by their line): a text column with
    quotes, commas and line breaks in some fields, an empty line among the records; with
    ``invalid_head``, the first file's first 400 records invalid, so that its first blocks
    have no rows to write (with --skip-invalid) and the header goes further on."""
    rng = np.random.default_rng(11)
    paths = []
    for number, rows in enumerate((900, 1300)):
        raw = rng.random((rows, 3)) + 0.01
        probs = raw / raw.sum(axis=1, keepdims=True)
        notes = [f'say "hi", {i}\nagain' if i % 37 == 0 else f"n{i}" for i in range(rows)]
        if number == 0 and invalid_head:
            probs[:400, 2] = -1.0
        frame = pl.DataFrame(
            {"label": rng.integers(0, 3, rows), **{f"p{c}": probs[:, c] for c in range(3)},
             "note": notes}
        )  # fmt: skip
        path = folder / f"in-{number}.csv"
        frame.write_csv(path)
        lines = path.read_text().split("\n")
        if number == 1:
            lines.insert(700, "")
        path.write_text("\n".join(lines))
        paths.append(str(path))
    return paths


def test_a_bad_value_on_the_cluster_leaves_no_parts(
    cluster: tuple[LocalCluster, Client], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cecli.cli import main

    address = _workers(cluster, 2)
    files = _per_row_inputs(tmp_path)
    lines = Path(files[1]).read_text().split("\n")
    lines[1100] = "0,0.5,x,0.2,late"
    lines[1250] = "0,0.5,0.5,y,later"
    Path(files[1]).write_text("\n".join(lines))
    before = sorted(os.listdir(tmp_path))
    args = ["ce", *[a for f in files for a in ("--csv", f)], "--reduction", "none"]
    assert main([*args, "--output", str(tmp_path / "one.csv")]) == 2
    single = capsys.readouterr()
    assert single.err.startswith(f"cecli: error: {files[1]}:")
    assert single.err.endswith(": 'x' is not a number\n")
    for output in (f"{tmp_path}/parts/", str(tmp_path / "cluster.csv")):
        assert main([*args, "--output", output, "--dask", address]) == 2
        assert capsys.readouterr() == single
        assert sorted(os.listdir(tmp_path)) == before


def test_progress_piped_from_a_cluster_run_prints_nothing_on_stderr(
    cluster: tuple[LocalCluster, Client], inputs: dict[str, list[str]]
) -> None:
    address = _workers(cluster, 2)
    result = subprocess.run(
        ["cecli", "ce", "--parquet", inputs["parquet"][0], "--label-col", "label",
         "--pred-cols", ",".join(CLASSES), "--classes", ",".join(CLASSES), "--id-col", "id",
         "--weight-col", "w", "--dask", address, "-q"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    single = cecli.score_file(inputs["parquet"][0], **{**OPTIONS, "by_file": False})
    assert result.stdout == f"{single.loss!r}\n"


def test_a_cluster_run_shows_its_progress_at_a_terminal(
    cluster: tuple[LocalCluster, Client], inputs: dict[str, list[str]]
) -> None:
    address = _workers(cluster, 2)
    # As a user's terminal: the test session tells rich otherwise.
    environment = {k: v for k, v in os.environ.items() if k != "TTY_COMPATIBLE"}
    controller, terminal = os.openpty()
    try:
        done = subprocess.run(
            ["cecli", "ce", "--parquet", inputs["parquet"][0], "--label-col", "label",
             "--pred-cols", ",".join(CLASSES), "--classes", ",".join(CLASSES), "--id-col", "id",
             "--weight-col", "w", "--dask", address, "-q"],
            stdout=subprocess.PIPE, stderr=terminal, text=True, check=False, timeout=120,
            env=environment,
        )  # fmt: skip
    finally:
        os.close(terminal)
    shown = b""
    with contextlib.suppress(OSError):  # Linux ends a pty whose other side is closed with EIO
        while chunk := os.read(controller, 65536):
            shown += chunk
    os.close(controller)
    assert done.returncode == 0
    assert b"rows/s" in shown
    assert b"/700" in shown  # the rows done of the rows expected (the Parquet footer's 700)
    finished = re.findall(rb"(\d+)/(\d+) tasks", shown)
    assert finished, shown  # the tasks finished of the tasks in all
    assert all(int(done) <= int(total) for done, total in finished)


# Last of the tests on the shared cluster: its nanny does not always bring the worker back.
def test_a_worker_killed_mid_run_changes_nothing(
    cluster: tuple[LocalCluster, Client], inputs: dict[str, list[str]], tmp_path: Path
) -> None:
    address = _workers(cluster, 2)
    _, client = cluster
    before = set(client.scheduler_info(n_workers=-1)["workers"])
    victim = sorted(before)[0]
    pid: int = client.run(os.getpid, workers=[victim])[victim]
    killed: list[str] = []

    def kill(progress: ScoringProgress) -> None:
        if not killed:  # as soon as the tasks are submitted, before any has finished
            os.kill(pid, signal.SIGKILL)  # the worker process, not its nanny
            killed.append(victim)

    single = cecli.score_file(inputs["csv"], **OPTIONS, output=str(tmp_path / "one.csv"))
    survived = cecli.score_file(
        inputs["csv"], **OPTIONS, dask=address, on_progress=kill, output=f"{tmp_path}/parts/"
    )
    _same(single, survived)
    assert killed
    # Each part written once, by the task that finished, in place of any earlier attempt's.
    written = sorted(os.listdir(tmp_path / "parts"))
    assert all(name.startswith("part-") or name == "_manifest.json" for name in written)
    manifest = json.loads((tmp_path / "parts" / "_manifest.json").read_text())
    found = b"".join((tmp_path / "parts" / p["name"]).read_bytes() for p in manifest["parts"])
    assert found == (tmp_path / "one.csv").read_bytes()
    deadline = time.monotonic() + 60
    while victim in client.scheduler_info(n_workers=-1)["workers"]:
        assert time.monotonic() < deadline, "the worker was not killed"
        time.sleep(0.1)


def test_a_worker_killed_mid_task_leaves_no_copy_of_its_block(
    inputs: dict[str, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker killed in the middle of a task cannot remove its block's copy: the run does.
    The cluster is the test's own, its temporary folder private, so that every file it
    leaves there is seen."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setenv("TMPDIR", str(temporary))  # the workers' and this process's
    monkeypatch.setattr(tempfile, "tempdir", None)
    monkeypatch.setattr(distributed, "TASK_BYTES", 100_000)
    big = tmp_path / "big.csv"
    _frame(20_000, seed=5).write_csv(big)
    single = cecli.score_file(str(big), **OPTIONS)
    held: list[str] = []
    with _two_workers() as (local, client):
        victim = sorted(client.run(os.getpid).values())[0]
        client.run(_slow_tasks, 0.2)  # each task holds its copy a while

        def kill(progress: ScoringProgress) -> None:
            deadline = time.monotonic() + 60
            # Once both workers hold a block's copy (a task at a time each), the victim is
            # in the middle of a task.
            while len(held) < 2:
                held[:] = [path.name for path in temporary.glob("cecli-block-*")]
                assert time.monotonic() < deadline, "the workers made no copies of blocks"
            os.kill(victim, signal.SIGKILL)

        survived = cecli.score_file(
            str(big), **OPTIONS, dask=local.scheduler_address, on_progress=_once(kill)
        )
        _same(single, survived)
        assert held
        assert [p.name for p in temporary.rglob("cecli-block-*")] == []


def _slow_tasks(seconds: float) -> None:
    """Every block scored ``seconds`` late, in this worker process."""
    from cecli.scoring import Job

    score_table = Job.score_table

    def late(job: Job, *args: Any, **kwargs: Any) -> Any:
        time.sleep(seconds)
        return score_table(job, *args, **kwargs)

    setattr(Job, "score_table", late)  # noqa: B010 (a method replaced: mypy refuses `=`)


def _once(action: Callable[[ScoringProgress], None]) -> Callable[[ScoringProgress], None]:
    done: list[bool] = []

    def first(progress: ScoringProgress) -> None:
        if not done:
            done.append(True)
            action(progress)

    return first


def test_a_sweep_removes_only_the_copies_no_process_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy held by a live process (this one, another) stays; one whose process was killed
    goes; files of other names, or no regular files, are left alone."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    source = tmp_path / "in.csv"
    source.write_text("label,p0\n" + "1,0.5\n" * 10)
    others = ["cecli-block-0123456789ab.csv", "cecli-block-1-0123456789ab.csv.part"]
    for name in others:
        (tmp_path / name).write_text("x")
    os.mkfifo(tmp_path / "cecli-block-7-00000000000f.csv")
    holder = (
        "import contextlib, sys, time\n"
        "from cecli import distributed\n"
        "with contextlib.ExitStack() as stack:\n"
        f"    print(distributed._block_file(stack, {str(source)!r}, (9, 27)), flush=True)\n"
        "    time.sleep(600)\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    ) as other:  # fmt: skip
        try:
            assert other.stdout is not None
            theirs = Path(other.stdout.readline().strip())
            with contextlib.ExitStack() as stack:
                mine = distributed._block_file(stack, str(source), (9, 27))
                assert mine.read_text() == "label,p0\n" + "1,0.5\n" * 3
                distributed.sweep_blocks()
                assert mine.exists()
                assert theirs.exists()
                other.kill()
                other.wait()
                assert theirs.exists()  # its process could not remove it
                distributed.sweep_blocks()
                assert mine.exists()
                assert not theirs.exists()
            assert not mine.exists()
        finally:
            other.kill()
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["in.csv", *others, "cecli-block-7-00000000000f.csv"]
    )


def test_an_unreachable_scheduler_is_one_error(inputs: dict[str, list[str]]) -> None:
    import dask

    with (
        dask.config.set({"distributed.comm.timeouts.connect": "1s"}),
        pytest.raises(cecli.InputError) as raised,
    ):
        cecli.score_file(inputs["csv"][0], dask="tcp://127.0.0.1:9")
    assert str(raised.value).startswith("dask: cannot reach the scheduler at tcp://127.0.0.1:9 (")
    assert "\n" not in str(raised.value)
    assert raised.value.parameter == "dask"


@pytest.mark.parametrize("workers", ["-1", "x", ""])
def test_a_local_cluster_of_no_whole_number_of_workers_is_refused_at_once(
    inputs: dict[str, list[str]], workers: str
) -> None:
    # Not local[:N], these were tried as a scheduler at host 'local', 30 s each.
    import dask

    with (
        dask.config.set({"distributed.comm.timeouts.connect": "1s"}),
        pytest.raises(cecli.InputError) as raised,
    ):
        cecli.score_file(inputs["csv"][0], dask=f"local:{workers}")
    assert str(raised.value) == f"dask: local:N needs N ≥ 1 workers, got {workers!r}"
    assert raised.value.parameter == "dask"


def test_ctrl_c_stops_a_cluster_run_quietly_and_leaves_nothing(tmp_path: Path) -> None:
    """SIGINT while the tasks write their parts: exit 130, nothing on stderr, no folder or
    staging left, and no worker process of the local cluster left running."""
    data = tmp_path / "data"
    data.mkdir()
    rows = 300_000
    rng = np.random.default_rng(3)
    raw = rng.random((rows, 4)) + 0.01
    frame = pl.DataFrame({"label": rng.integers(0, 4, rows),
                          **{f"p{c}": raw[:, c] / raw.sum(axis=1) for c in range(4)}})  # fmt: skip
    for number in range(4):
        frame.write_csv(data / f"part-{number}.csv")
    process = subprocess.Popen(
        ["cecli", "ce", "--csv", str(data), "--reduction", "none", "--output",
         f"{tmp_path}/rows/", "--dask", "local:2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        # Once a task has opened its part in the staging folder, the run is under way.
        while not _started(tmp_path):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no part was started"
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert (out, err) == ("", "")
    assert sorted(os.listdir(tmp_path)) == ["data"]
    deadline = time.monotonic() + 30
    while True:  # the session the command started: its workers, if any were left
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, "worker processes outlived the command"
        time.sleep(0.1)


def _started(folder: Path) -> bool:
    """Whether a staging folder in ``folder`` holds a part (being written)."""
    for name in os.listdir(folder):
        if name.startswith(f".rows{parts.STAGING_INFIX}"):
            with contextlib.suppress(FileNotFoundError):
                if os.listdir(folder / name):
                    return True
    return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize(
    ("wait", "whole_group"), [(0.0, True), (0.25, True), (0.6, True), (0.25, False)]
)
def test_ctrl_c_while_the_local_cluster_starts_is_quiet_and_leaves_no_worker(
    tmp_path: Path, wait: float, whole_group: bool
) -> None:
    """SIGINT ``wait`` seconds after the command's first child process (the cluster is
    starting): to the whole process group, as a terminal's Ctrl-C, or to the command alone.
    Exit 130, nothing on stderr, and no process of the command left."""
    data = tmp_path / "data.csv"
    _frame(300, seed=9).write_csv(data)
    process = subprocess.Popen(
        ["cecli", "ce", "--csv", str(data), "--label-col", "label", "--pred-cols",
         ",".join(CLASSES), "--classes", ",".join(CLASSES), "--dask", "local:2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while len(_group(process.pid)) < 2:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the command started no process"
            time.sleep(0.01)
        time.sleep(wait)
        if whole_group:
            os.killpg(process.pid, signal.SIGINT)
        else:
            process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert err == ""
    assert out == ""
    deadline = time.monotonic() + 60
    while left := _group(process.pid):
        assert time.monotonic() < deadline, f"processes outlived the command: {left}"
        time.sleep(0.1)


def _group(group: int) -> list[int]:
    """The live processes of process group ``group`` (from /proc: not zombies)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == group and fields[0] != "Z":
                    found.append(int(name))
    return found


def test_a_local_cluster_of_its_own(inputs: dict[str, list[str]]) -> None:
    part = inputs["csv"][2]
    _same(cecli.score_file(part, **OPTIONS), cecli.score_file(part, **OPTIONS, dask="local:1"))


def test_without_dask_one_error_names_the_extra(inputs: dict[str, list[str]]) -> None:
    script = (
        "import sys\n"
        "sys.modules['distributed'] = None\n"  # as if it were not installed
        "import cecli\n"
        f"options = {OPTIONS!r}\n"
        f"print(cecli.score_file({inputs['csv'][0]!r}, **options).rows)\n"
        "names = ('dask', 'distributed')\n"
        "dask = [m for m, v in sys.modules.items() if v and m.split('.')[0] in names]\n"
        "assert not dask, dask\n"
        "try:\n"
        f"    cecli.score_file({inputs['csv'][0]!r}, dask='local:2')\n"
        "except cecli.InputError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "700\nscoring on a Dask cluster needs Dask; pip install 'cecli[dask]'\n"
    )


def test_a_local_cluster_that_cannot_start_is_one_error(
    inputs: dict[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import distributed as dask_distributed

    def failing(*args: object, **kwargs: object) -> None:
        try:
            raise OSError("no room for a worker")
        except OSError as error:  # as distributed words it: a RuntimeError with the cause
            raise RuntimeError("Nanny failed to start.") from error

    monkeypatch.setattr(dask_distributed, "LocalCluster", failing)
    with pytest.raises(cecli.InputError) as raised:
        cecli.score_file(inputs["csv"][0], dask="local:2")
    assert str(raised.value) == "dask: cannot start local:2 (no room for a worker)"
