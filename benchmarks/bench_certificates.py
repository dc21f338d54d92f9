"""Time to issue one 2048-bit certificate, beside `openssl req -x509` doing the same.

Run: .venv/bin/python -m benchmarks.bench_certificates [--runs 21]

Both sides generate an RSA key (random primes, so single runs vary a lot); the
median of several runs, taken alternately in one process, gives the ratio.
"""

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path


def time_ours() -> float:
    from xero.certificates import generate_certificate

    start = time.perf_counter()
    generate_certificate(site_name="Bench Pty Ltd", site_code="bench", key_size=2048, days=1825)
    return time.perf_counter() - start


def time_openssl(folder: Path) -> float:
    command = [
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
        "-days", "1825", "-subj", "/CN=ImagatecAPI/O=Bench Pty Ltd/OU=bench",
        "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem"),
    ]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def time_openssl_start() -> float:
    start = time.perf_counter()
    subprocess.run(["openssl", "version"], check=True, capture_output=True)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args(argv)
    ours, theirs, start_only = [], [], []
    with tempfile.TemporaryDirectory() as folder:
        time_ours(), time_openssl(Path(folder))  # warm-up: imports, page cache
        for _ in range(args.runs):
            ours.append(time_ours())
            theirs.append(time_openssl(Path(folder)))
            start_only.append(time_openssl_start())
    ours_ms, theirs_ms = statistics.median(ours) * 1000, statistics.median(theirs) * 1000
    print(f"runs: {args.runs}")
    print(f"Warehouse (cryptography): median {ours_ms:.1f} ms")
    print(f"openssl req -x509:        median {theirs_ms:.1f} ms")
    start_ms = statistics.median(start_only) * 1000
    print(f"ratio Warehouse / openssl: {ours_ms / theirs_ms:.2f}")
    # The CLI pays for starting a process; this shows how much of its time that is.
    print(
        f"(openssl version alone:    median {start_ms:.1f} ms; ratio without it: "
        f"{ours_ms / (theirs_ms - start_ms):.2f})"
    )


if __name__ == "__main__":
    main()
