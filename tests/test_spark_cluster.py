"""echoscope shipped as a wheel to Spark executors (``spark-submit --py-files``), and a
real standalone cluster.

* The wheel test builds echoscope's wheel and runs ``spark_job.py`` under
  ``spark-submit --master local[2] --py-files <wheel>`` in a subprocess: the driver and
  the executors import echoscope from the shipped archive (checked), numba's cache works
  from it (``echoscope.engines.numba_cache``), and the edges equal the embedded engine's.
* The standalone-cluster test starts a Spark master and one worker on this machine,
  submits the same job with ``--master spark://127.0.0.1:<port>`` and stops the cluster.
  It takes minutes on a loaded 2-core machine, so it runs only when
  ``ECHOSCOPE_SPARK_STANDALONE=1`` (docs/spark.md has the commands it runs).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

pyspark = pytest.importorskip("pyspark")
if shutil.which("java") is None:  # pragma: no cover - CI installs Java
    pytest.skip("the Spark engine needs Java 17", allow_module_level=True)

pytestmark = [pytest.mark.spark, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
SPARK_HOME = Path(pyspark.__file__).parent
BIN = Path(sys.executable).parent

# the job plus a probe: where the driver and the executors imported echoscope from
PROBE = '''
import json, sys
from echoscope.engines.spark_job import main
rc = main(sys.argv[1:])
from pyspark.sql import SparkSession
spark = SparkSession.getActiveSession()
def where(_):
    import echoscope.detect.kernel as k
    return [k.__file__]
import echoscope
print("PROBE " + json.dumps({"driver": echoscope.__file__, "master": spark.sparkContext.master,
    "executors": spark.sparkContext.parallelize([1, 2], 2).mapPartitions(where).collect()}))
sys.exit(rc)
'''


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """echoscope's wheel: ``ECHOSCOPE_WHEEL`` when given (``pip wheel . --no-deps``), else
    the same layout built here offline (a pure wheel is a zip of the package folder and
    its .dist-info; building a real one needs the build backend from an index)."""
    import zipfile

    given = os.environ.get("ECHOSCOPE_WHEEL")
    if given:
        return Path(given)
    from importlib.metadata import version

    v = version("echoscope")
    out = tmp_path_factory.mktemp("dist") / f"echoscope-{v}-py3-none-any.whl"
    src = ROOT / "src"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted((src / "echoscope").rglob("*")):
            if f.is_file() and "__pycache__" not in f.parts:
                z.write(f, f.relative_to(src).as_posix())
        z.writestr(f"echoscope-{v}.dist-info/METADATA",
                   f"Metadata-Version: 2.1\nName: echoscope\nVersion: {v}\n")
    return out


@pytest.fixture(scope="module")
def expected(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The embedded engine's edges for spark_job's defaults on the bundled sample."""
    from echoscope.actions import actions_from_posts
    from echoscope.detect.coaction import DetectParams, coaction_edges
    from echoscope.ingest import ingest_files
    from echoscope.simulate import sample_path
    from echoscope.workspace import Workspace

    ws = Workspace(tmp_path_factory.mktemp("ws") / "s.duckdb")
    ingest_files([str(sample_path())], ws)
    posts = ws.table("posts")
    ws.close()
    p = DetectParams(seed=0)
    return coaction_edges(actions_from_posts(posts), p, p.seed)


def _submit(master: str, wheel: Path, out: Path, tmp: Path) -> dict[str, Any]:
    from echoscope.simulate import sample_path

    script = tmp / "probe_job.py"
    script.write_text(PROBE, encoding="utf-8")
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable,
           "PYSPARK_DRIVER_PYTHON": sys.executable, "SPARK_HOME": str(SPARK_HOME),
           "NUMBA_CACHE_DIR": str(tmp / "numba-cache")}
    env.pop("PYSPARK_GATEWAY_PORT", None)
    cmd = [str(SPARK_HOME / "bin" / "spark-submit"), "--master", master,
           "--conf", "spark.sql.shuffle.partitions=4", "--conf", "spark.ui.enabled=false",
           "--conf", "spark.log.level=WARN", "--conf", "spark.executor.memory=1g",
           "--py-files", str(wheel), str(script), str(sample_path()),
           "--format", "twitter-v1", "--out", str(out)]
    r = subprocess.run(cmd, env=env, cwd=tmp, capture_output=True, text=True, timeout=1500)
    assert r.returncode == 0, r.stderr[-4000:]
    line = next(x for x in r.stdout.splitlines() if x.startswith("PROBE "))
    probe: dict[str, Any] = json.loads(line[len("PROBE "):])
    return probe


def _check(probe: dict[str, Any], wheel: Path, out: Path, expected: Any) -> None:
    from echoscope.network import write_edges_csv

    assert ".whl" in probe["driver"] and probe["driver"].startswith(str(wheel))
    # executors: the wheel re-shipped as a .zip (workers ignore .whl files on --py-files)
    assert all(".zip" + os.sep + "echoscope" in f for f in probe["executors"])
    got = pq.read_table(out / "edges.parquet")
    assert got.num_rows > 0 and got.equals(expected)
    write_edges_csv(expected, str(out / "want.csv"))
    assert (out / "edges.csv").read_bytes() == (out / "want.csv").read_bytes()


def test_wheel_shipped_with_py_files(wheel: Path, expected: Any, tmp_path: Path) -> None:
    probe = _submit("local[2]", wheel, tmp_path / "out", tmp_path)
    assert probe["master"] == "local[2]"
    _check(probe, wheel, tmp_path / "out", expected)
    # numba cached the kernels compiled from inside the archive
    assert any((tmp_path / "numba-cache").rglob("*.nbi"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.skipif(os.environ.get("ECHOSCOPE_SPARK_STANDALONE") != "1",
                    reason="minutes on a small machine: set ECHOSCOPE_SPARK_STANDALONE=1")
def test_standalone_cluster(wheel: Path, expected: Any, tmp_path: Path) -> None:
    port, ui, wui = _free_port(), _free_port(), _free_port()
    url = f"spark://127.0.0.1:{port}"
    env = {**os.environ, "SPARK_HOME": str(SPARK_HOME), "SPARK_NO_DAEMONIZE": "1"}
    cls = str(SPARK_HOME / "bin" / "spark-class")
    logs = tmp_path / "logs"
    logs.mkdir()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with open(logs / "master.log", "wb") as f:
            procs.append(subprocess.Popen(
                [cls, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                 "--port", str(port), "--webui-port", str(ui)], env=env, stdout=f,
                stderr=subprocess.STDOUT))
        with open(logs / "worker.log", "wb") as f:
            procs.append(subprocess.Popen(
                [cls, "org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1",
                 "--cores", "2", "--memory", "2g", "--webui-port", str(wui),
                 "--work-dir", str(tmp_path / "work")], env=env, stdout=f,
                stderr=subprocess.STDOUT))
        deadline = time.time() + 180
        while b"Successfully registered with master" not in (logs / "worker.log").read_bytes():
            assert time.time() < deadline, (logs / "worker.log").read_text()[-2000:]
            time.sleep(1)
        probe = _submit(url, wheel, tmp_path / "out", tmp_path)
        assert probe["master"] == url
        _check(probe, wheel, tmp_path / "out", expected)
        assert b"Launching executor" in (logs / "master.log").read_bytes()
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
