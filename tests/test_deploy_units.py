"""deploy/: the systemd units pass `systemd-analyze verify` (skipped where systemd is not
installed) and keep their hardening."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
UNITS = sorted(p.name for p in DEPLOY.iterdir() if p.suffix in (".service", ".timer"))
SERVICES = [name for name in UNITS if name.endswith(".service")]
HARDENING = (
    "User=warehouse",
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "EnvironmentFile=/etc/warehouse/warehouse.env",
    "CapabilityBoundingSet=\n",
)


def test_the_layout_is_complete():
    assert set(UNITS) == {
        "warehouse-web.service",
        "warehouse-worker@.service",
        "warehouse-rq-worker@.service",
        "warehouse-xero-check-fleet.service",
        "warehouse-xero-check-fleet.timer",
        "warehouse-prune-audit-trail.service",
        "warehouse-prune-audit-trail.timer",
    }


@pytest.mark.parametrize("name", SERVICES)
def test_every_service_is_hardened(name):
    text = (DEPLOY / name).read_text()
    for line in HARDENING:
        assert line in text, f"{name} lacks {line!r}"


def test_workers_restart_always_and_timers_run_hourly_and_daily():
    assert "Restart=always" in (DEPLOY / "warehouse-worker@.service").read_text()
    assert "Restart=always" in (DEPLOY / "warehouse-rq-worker@.service").read_text()
    assert "OnCalendar=hourly" in (DEPLOY / "warehouse-xero-check-fleet.timer").read_text()
    assert re.search(
        r"OnCalendar=\*-\*-\* \d\d:\d\d:00",
        (DEPLOY / "warehouse-prune-audit-trail.timer").read_text(),
    )


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd is not installed")
def test_systemd_analyze_verify_passes(tmp_path):
    # The units name /srv/warehouse; verify checks that their programs exist, so point them
    # at this checkout (which has the same .venv/bin layout).
    for name in UNITS:
        text = (DEPLOY / name).read_text().replace("/srv/warehouse", str(ROOT))
        (tmp_path / name).write_text(text)
    instances = [
        str(tmp_path / name.replace("@.", "@1.")) if "@." in name else str(tmp_path / name)
        for name in UNITS
    ]
    for name in UNITS:
        if "@." in name:
            shutil.copy(tmp_path / name, tmp_path / name.replace("@.", "@1."))
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *instances],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    problems = [
        line for line in (result.stdout + result.stderr).splitlines() if "warehouse" in line
    ]
    assert result.returncode == 0 and not problems, result.stdout + result.stderr
