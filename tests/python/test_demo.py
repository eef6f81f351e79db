"""examples/page_visits.py (what script/demo runs), with fewer visits: the tables it prints add
up, the three consumers shared the partitions, and every visit was counted exactly once."""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "page_visits.py"


def number(text):
    return int(text.replace(",", ""))


def section(out, title):
    """The lines of the table that starts with `title` (up to the next blank line)."""
    (block,) = [b for b in out.split("\n\n") if b.startswith(title)]
    return "\n".join(block.splitlines()[2:])  # without the title and the column names


def test_page_visits_counts_every_visit_once(brokers):
    visits = 3000
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "python"), os.environ.get("PYTHONPATH", "")]))
    env.pop("KAFKA_BOOTSTRAP", None)
    run = subprocess.run(
        [sys.executable, str(EXAMPLE), "--visits", str(visits), "--bootstrap", ",".join(brokers), "--seed", "7"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert out.rstrip().endswith("every visit counted exactly once")
    assert "Check: produced 3,000, counted 3,000, 0 counted twice, 0 missed, 0 IP(s) in the wrong partition, " \
           "per-IP counts match the producer's" in out

    # per IP: the top 20, then the rest, adding up to the total
    per_ip = section(out, "Visits per IP")
    ips = re.findall(r"^  (192\.168\.2\.(\d+)) +([\d,]+)$", per_ip, re.M)
    assert len(ips) == 20
    counts = [number(n) for _, _, n in ips]
    assert counts == sorted(counts, reverse=True)
    rest = re.search(r"^  (\d+) other IPs +([\d,]+)$", per_ip, re.M)
    assert rest and 20 + int(rest.group(1)) == 255  # 3,000 visits reach every IP
    assert sum(counts) + number(rest.group(2)) == visits
    assert re.search(r"^  total +3,000$", per_ip, re.M)

    # per consumer: three of them, the five partitions split between them
    consumers = re.findall(r"^  ([123]) +([\d, ]+?) +([\d,]+)$", section(out, "Per consumer"), re.M)
    assert len(consumers) == 3, out
    partitions = [int(p) for _, ps, _ in consumers for p in ps.split(", ")]
    assert sorted(partitions) == [0, 1, 2, 3, 4]
    assert sum(number(n) for _, _, n in consumers) == visits

    # per partition: what was produced is what was counted, 51 IPs each (255 / 5)
    rows = re.findall(r"^  ([0-4]) +([\d,]+) +([\d,]+) +(\d+)$", section(out, "Per partition"), re.M)
    assert len(rows) == 5
    assert all(produced == counted for _, produced, counted, _ in rows)
    assert sum(number(c) for _, _, c, _ in rows) == visits
    assert all(int(n) == 51 for *_, n in rows)

    # the progress and the group's story went to stderr
    assert "claims partition(s)" in run.stderr and "the group has settled" in run.stderr
    assert re.search(r"produced 3,000 visits in", run.stderr)


def test_page_visits_rejects_a_bad_count():
    run = subprocess.run([sys.executable, str(EXAMPLE), "--visits", "0"], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT / "python")), timeout=30)
    assert run.returncode == 2 and "--visits must be positive" in run.stderr
