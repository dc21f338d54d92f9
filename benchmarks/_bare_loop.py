"""The anchor of bench_fleet: signed GET Organisation calls by a bare loop, no Django.

One requests-oauthlib session per Site (each Site is its own organisation and key), 20
threads, the private key parsed once. Reads JSON from stdin: url, keys, private_key_pem,
threads; prints the wall time and CPU seconds as JSON.
"""

import json
import queue
import sys
import threading
import time

from cryptography.hazmat.primitives import serialization
from oauthlib.oauth1 import SIGNATURE_RSA, SIGNATURE_TYPE_AUTH_HEADER
from requests_oauthlib import OAuth1Session

from benchmarks._cpu import cpu_mark, cpu_since


def main():
    job = json.load(sys.stdin)
    key = serialization.load_pem_private_key(
        job["private_key_pem"].encode(), password=None, unsafe_skip_rsa_key_validation=True
    )
    pending = queue.SimpleQueue()
    for consumer_key in job["keys"]:
        pending.put(consumer_key)
    statuses = []

    def work():
        while True:
            try:
                consumer_key = pending.get_nowait()
            except queue.Empty:
                return
            session = OAuth1Session(
                consumer_key,
                resource_owner_key=consumer_key,
                signature_method=SIGNATURE_RSA,
                rsa_key=key,
                signature_type=SIGNATURE_TYPE_AUTH_HEADER,
            )
            response = session.get(job["url"], headers={"Accept": "application/json"}, timeout=20)
            response.json()
            statuses.append(response.status_code)
            session.close()

    cpu, started = cpu_mark(), time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(job["threads"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    json.dump(
        {"wall": wall, **cpu_since(cpu), "ok": statuses.count(200)},
        sys.stdout,
    )


if __name__ == "__main__":
    main()
