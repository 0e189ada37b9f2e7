"""Experiment behind BENCHMARKS.md "Backend and worker take turns":
exportd CSV/JSONL walls with the default unix-socket send buffer and with an
8 MiB one, interleaved, on a cluster kept by `scripts/bench --workdir DIR`.

  /usr/bin/python3 bench/overlap_experiment.py DIR [ROUNDS] [ROWS]

CHANGES A KERNEL SETTING for the whole machine while each export runs:
net.core.wmem_default (and wmem_max) are raised to 8 MiB before the export
(so the backend's and exportd's new data-connection sockets get the larger
send buffer, letting the backend run a whole chunk ahead of the worker) and
restored right after it, and in any case on exit. Root only; not part of
scripts/bench.
"""
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as B  # noqa: E402
from benchlib import S  # noqa: E402
from bench import Exports  # noqa: E402

WMEM_DEFAULT = Path("/proc/sys/net/core/wmem_default")
WMEM_MAX = Path("/proc/sys/net/core/wmem_max")


def main(argv):
    root = Path(argv[0]).resolve()
    rounds = int(argv[1]) if len(argv) > 1 else 5
    rows = int(argv[2]) if len(argv) > 2 else 1000000
    S.become_subreaper()
    pg = B.BenchPostgres(root)
    B.snapshot_binaries(root / "bin")
    st = B.BenchStack(pg, root / "stack", bindir=root / "bin")
    orig, origmax = WMEM_DEFAULT.read_text().strip(), WMEM_MAX.read_text().strip()

    def restore():
        WMEM_DEFAULT.write_text(orig)
        WMEM_MAX.write_text(origmax)

    res = {m: {"csv": [], "jsonl": []} for m in ("default", "8MiB")}
    try:
        pg.start()
        st.start(rows)
        ex = Exports(st, root, rows)
        for r in range(rounds):
            for mode in ("default", "8MiB"):
                for fmt in ("csv", "jsonl"):
                    if mode == "8MiB":
                        WMEM_MAX.write_text(str(max(8 << 20, int(origmax))))
                        WMEM_DEFAULT.write_text(str(8 << 20))
                    try:
                        out = ex.exportd(fmt)
                    finally:
                        restore()
                    res[mode][fmt].append(out["wall_s"])
                    print("round %d  %-7s %-5s %.3f s" % (r + 1, mode, fmt, out["wall_s"]),
                          flush=True)
    finally:
        restore()
        st.stop()
        pg.stop()
    for mode, byfmt in res.items():
        for fmt, walls in byfmt.items():
            print("%-7s %-5s median %.3f s  %s" % (mode, fmt, statistics.median(walls),
                                                   " ".join("%.3f" % w for w in walls)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
