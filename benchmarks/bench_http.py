"""HTTP benchmark (issue #3): the production server under 32 concurrent clients.

Starts `shien serve` (gunicorn, DEBUG off, whitenoise) on 127.0.0.1 with a fresh database, then
drives it with wrk (Debian package; installed when missing) for each endpoint and reports
requests/s and latency percentiles. Targets: ≥ 300 requests/s and p99 ≤ 100 ms at 32 clients for
`POST /api/v1/estimate` and `GET /programs/`.

Run: uv run python benchmarks/bench_http.py [--seconds 15] [--workers 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_rules import AS_OF, PROFILES, calibration  # noqa: E402

OUT = Path(__file__).parent / "out"
PORT = 8799


def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if path:
        return path
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, stdout=subprocess.DEVNULL)  # noqa: S607
    return shutil.which("wrk") or "wrk"


def start_server(workers: int, var: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "DATABASE_URL")}
    env.update({"SHIEN_VAR_DIR": str(var), "DEBUG": "false", "LOG_LEVEL": "ERROR"})
    server = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "shien.cli",
            "serve",
            "--demo",
            "--port",
            str(PORT),
            "--workers",
            str(workers),
            "--quiet",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(120):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz", timeout=1):  # noqa: S310
                return server
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise RuntimeError("the server did not start")


def parse_wrk(text: str) -> dict[str, float]:
    def ms(value: str) -> float:
        number, unit = re.match(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
        return float(number) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    latency = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", text, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    socket = re.search(r"Socket errors: (.*)", text)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text)[1]),  # type: ignore[index]
        "p50_ms": ms(latency["50"]),
        "p90_ms": ms(latency["90"]),
        "p99_ms": ms(latency["99"]),
        "non_2xx": int(errors[1]) if errors else 0,
        "socket_errors": socket[1] if socket else "",
    }


def run_wrk(wrk: str, url: str, seconds: int, script: Path | None = None) -> dict[str, float]:
    command = [wrk, "-t1", "-c32", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    if script:
        command += ["-s", str(script)]
    result = subprocess.run([*command, url], capture_output=True, text=True, check=True)  # noqa: S603
    return parse_wrk(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()
    wrk = ensure_wrk()
    results: dict[str, object] = {"calibration_ms_before": calibration()}
    with tempfile.TemporaryDirectory() as tmp:
        body = json.dumps({**PROFILES[0], "as_of": AS_OF.isoformat()}, ensure_ascii=False)
        script = Path(tmp) / "post.lua"
        script.write_text(
            'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = {json.dumps(body, ensure_ascii=False)}\n",
            encoding="utf-8",
        )
        server = start_server(args.workers, Path(tmp) / "var")
        try:
            base = f"http://127.0.0.1:{PORT}"
            for url in (f"{base}/programs/", f"{base}/api/v1/estimate"):  # warm every worker
                run_wrk(wrk, url, 2, script if "estimate" in url else None)
            results["estimate_api"] = run_wrk(wrk, f"{base}/api/v1/estimate", args.seconds, script)
            results["program_list"] = run_wrk(wrk, f"{base}/programs/", args.seconds)
            results["program_list_filtered"] = run_wrk(
                wrk, f"{base}/programs/?purpose=invoice&open=1", args.seconds
            )
            results["healthz"] = run_wrk(
                wrk, f"{base}/healthz", max(3, args.seconds // 3)
            )  # a request's fixed cost
        finally:
            server.terminate()
            server.wait(timeout=30)
    results["calibration_ms_after"] = calibration()
    results["workers"] = args.workers
    OUT.mkdir(exist_ok=True)
    (OUT / "bench_http.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(
        f"calibration: {results['calibration_ms_before']:.1f} / {results['calibration_ms_after']:.1f} ms (≈17 ms idle)"
    )
    for name in ("estimate_api", "program_list", "program_list_filtered", "healthz"):
        r = results[name]
        assert isinstance(r, dict)
        print(
            f"{name:22s} {r['rps']:7.0f} req/s  p50 {r['p50_ms']:6.1f} ms  p90 {r['p90_ms']:6.1f} ms  "
            f"p99 {r['p99_ms']:6.1f} ms  non-2xx {r['non_2xx']}  (targets ≥ 300 req/s, p99 ≤ 100 ms)"
        )


if __name__ == "__main__":
    main()
