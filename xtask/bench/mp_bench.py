#!/usr/bin/env python3
"""The CPython side of `cargo xtask bench`: one figure per invocation.

Run:  python mp_bench.py FIGURE-NAME      (or --list)
Prints one number on stdout, in the figure's unit (the same unit as the row in
xtask/src/figures.rs): the median of several repeats inside this one run.
Exit code 2: unknown figure; 3: a figure with nothing comparable to measure in Python.

Workloads follow CPython's own multiprocessing micro-benchmarks (the project's
reference anchors). The harness's environment, as for the Rust binaries
(xtask/bench/protocol.rs): XTASK_BENCH_REPEATS=N overrides the repeats;
XTASK_BENCH_PIN=split means this process was started on CPU 0 and every child it
forks is to run on CPU 1. The start-method figures use the named context; everything
else uses the default context (fork on Linux for CPython 3.11).
"""
import multiprocessing as mp
import os
import statistics
import sys
import time

REPS = int(os.environ.get("XTASK_BENCH_REPEATS", "5"))
MIB = 1 << 20
CHILD_CPU = 1
now = time.perf_counter


def median_of(fn, reps=REPS):
    reps = min(reps, REPS)
    return statistics.median(fn() for _ in range(reps))


def pin_children_if_split():
    """Under XTASK_BENCH_PIN=split, every forked child moves to CPU 1."""
    if os.environ.get("XTASK_BENCH_PIN") == "split":
        os.register_at_fork(
            after_in_child=lambda: os.sched_setaffinity(0, {CHILD_CPU}))


# ---------------------------------------------------------------- child targets
def noop():
    pass


def echo_bytes(conn, n):
    for _ in range(n):
        conn.send_bytes(conn.recv_bytes())


def send_bytes_n(conn, n, size):
    buf = bytes(size)
    for _ in range(n):
        conn.send_bytes(buf)


def put_n(q, n, item):
    if item is None:
        for i in range(n):
            q.put(i)
    else:
        for _ in range(n):
            q.put(item)


def square(x):
    return x * x


def incr_under_lock(v, n):
    for _ in range(n):
        with v.get_lock():
            v.value += 1


def sem_echo(s_ping, s_pong, n):
    for _ in range(n):
        s_ping.acquire()
        s_pong.release()


def event_echo(e_ping, e_pong, n):
    for _ in range(n):
        e_ping.wait()
        e_ping.clear()
        e_pong.set()


def cond_echo(cond, state, n):
    for _ in range(n):
        with cond:
            while state.value != 1:
                cond.wait()
            state.value = 2
            cond.notify()


# ---------------------------------------------------------------- figures
# Each returns one number in its row's unit.

def start_join(method, n):
    """ms per Process(target=noop).start() + join()."""
    ctx = mp.get_context(method)
    p = ctx.Process(target=noop)     # warm-up: for forkserver this starts the server
    p.start()
    p.join()

    def once():
        t0 = now()
        for _ in range(n):
            p = ctx.Process(target=noop)
            p.start()
            p.join()
            assert p.exitcode == 0
        return (now() - t0) / n * 1e3

    return median_of(once)


def lock_pair(n=1_000_000):
    """ns per mp.Lock() acquire + release, uncontended (includes the ~9 ns loop)."""
    lock = mp.Lock()

    def once():
        t0 = now()
        for _ in range(n):
            lock.acquire()
            lock.release()
        return (now() - t0) / n * 1e9

    return median_of(once)


def locked_increments(n=100_000, procs=2):
    """ms total: 2 processes x 100k increments of a Value('i') under its lock."""
    def once():
        v = mp.Value("i", 0)
        t0 = now()
        ps = [mp.Process(target=incr_under_lock, args=(v, n)) for _ in range(procs)]
        for p in ps:
            p.start()
        for p in ps:
            p.join()
        dt = now() - t0
        assert v.value == n * procs, v.value
        return dt * 1e3

    return median_of(once)


def pingpong(make, child, ping, n=5000):
    """us per round trip: child(*objs, n+1) echoes; n+1 pings, the first a warm-up."""
    def once():
        objs = make()
        p = mp.Process(target=child, args=(*objs, n + 1))
        p.start()
        ping(objs)
        t0 = now()
        for _ in range(n):
            ping(objs)
        dt = now() - t0
        p.join()
        return dt / n * 1e6

    return median_of(once)


def sem_ping(objs):
    objs[0].release()
    objs[1].acquire()


def event_ping(objs):
    objs[0].set()
    objs[1].wait()
    objs[1].clear()


def cond_ping(objs):
    cond, state = objs
    with cond:
        state.value = 1
        cond.notify()
        while state.value != 2:
            cond.wait()


def pipe_roundtrip_bytes(n=5000):
    """us per 8-byte send_bytes/recv_bytes round trip over mp.Pipe()."""
    def once():
        a, b = mp.Pipe()
        p = mp.Process(target=echo_bytes, args=(b, n + 1))
        p.start()
        msg = b"x" * 8
        a.send_bytes(msg)            # warm-up round trip: the child is running
        a.recv_bytes()
        t0 = now()
        for _ in range(n):
            a.send_bytes(msg)
            a.recv_bytes()
        dt = now() - t0
        p.join()
        a.close()
        b.close()
        return dt / n * 1e6

    return median_of(once)


LISTENER_KEY = b"figures"


def listener_address(family):
    """A fresh address: a Unix socket in a private directory, or TCP loopback."""
    if family == "unix":
        import tempfile
        return os.path.join(tempfile.mkdtemp(), "listener.sock")
    return ("127.0.0.1", 0)


def client_echo(address, n):
    from multiprocessing.connection import Client
    with Client(address, authkey=LISTENER_KEY) as c:
        echo_bytes(c, n)


def client_send_n(address, n, size):
    from multiprocessing.connection import Client
    with Client(address, authkey=LISTENER_KEY) as c:
        send_bytes_n(c, n, size)


def listener_roundtrip(family, n=5000):
    """us per 8-byte round trip: a Client child echoes to the Listener's connection."""
    from multiprocessing.connection import Listener

    def once():
        with Listener(listener_address(family), authkey=LISTENER_KEY) as l:
            p = mp.Process(target=client_echo, args=(l.address, n + 1))
            p.start()
            with l.accept() as a:
                msg = b"x" * 8
                a.send_bytes(msg)
                a.recv_bytes()
                t0 = now()
                for _ in range(n):
                    a.send_bytes(msg)
                    a.recv_bytes()
                dt = now() - t0
            p.join()
        return dt / n * 1e6

    return median_of(once)


def manager_dict_roundtrip(n=2000):
    """us per d["k"] = i then d["k"] on a Manager().dict() (its server process)."""

    def once():
        with mp.Manager() as m:
            d = m.dict()
            d["k"] = 0
            t0 = now()
            for i in range(n):
                d["k"] = i
                d["k"]
            dt = now() - t0
        return dt / n * 1e6

    return median_of(once)


def listener_1mib(family, n=200, size=MIB):
    """MiB/s: a Client child sends n 1 MiB messages to the Listener's connection."""
    from multiprocessing.connection import Listener

    def once():
        with Listener(listener_address(family), authkey=LISTENER_KEY) as l:
            p = mp.Process(target=client_send_n, args=(l.address, n, size))
            p.start()
            with l.accept() as r:
                first = r.recv_bytes()
                t0 = now()
                for _ in range(n - 1):
                    last = r.recv_bytes()
                dt = now() - t0
            assert len(first) == len(last) == size
            p.join()
        return (n - 1) * size / MIB / dt

    return median_of(once)


def pipe_throughput_1mib(n=200, size=MIB):
    """MiB/s: a child sends n 1 MiB messages over mp.Pipe(); first receipt -> last."""
    def once():
        r, w = mp.Pipe()
        p = mp.Process(target=send_bytes_n, args=(w, n, size))
        p.start()
        first = r.recv_bytes()
        t0 = now()
        for _ in range(n - 1):
            last = r.recv_bytes()
        dt = now() - t0
        assert len(first) == len(last) == size
        p.join()
        r.close()
        w.close()
        return (n - 1) * size / MIB / dt

    return median_of(once)


def queue_rate(n, item, reps=REPS):
    """items/s: one producer process puts n items, the parent gets; first -> last."""
    def once():
        q = mp.Queue()
        p = mp.Process(target=put_n, args=(q, n, item))
        p.start()
        q.get()
        t0 = now()
        for _ in range(n - 1):
            x = q.get()
        dt = now() - t0
        if item is None:
            assert x == n - 1
        p.join()
        return (n - 1) / dt

    return median_of(once, reps)


def take_until_none(q, go):
    go.wait()
    while q.get() is not None:
        pass


def put_share(q, n, go):
    go.wait()
    for i in range(n):
        q.put(i)


def queue_scale(procs, n=200_000):
    """items/s: `procs` producer and `procs` consumer processes share one mp.Queue; n items
    in all; from the start signal until every consumer has joined."""
    def once():
        q = mp.Queue()
        go = mp.Event()
        consumers = [mp.Process(target=take_until_none, args=(q, go))
                     for _ in range(procs)]
        producers = [mp.Process(target=put_share, args=(q, n // procs, go))
                     for _ in range(procs)]
        for p in consumers + producers:
            p.start()
        t0 = now()
        go.set()
        for p in producers:
            p.join()
        for _ in consumers:
            q.put(None)
        for p in consumers:
            p.join()
        return n // procs * procs / (now() - t0)

    return median_of(once)


def per_creation(make, n=2000):
    """us per object created and dropped (closed)."""
    def once():
        make()
        t0 = now()
        for _ in range(n):
            make()
        return (now() - t0) / n * 1e6

    return median_of(once)


def make_pipe():
    a, b = mp.Pipe()
    a.close()
    b.close()


def make_queue():
    q = mp.Queue()
    q.close()


def wait_ready_sentinel(n=2000, children=50):
    """us per connection.wait over 50 live children's sentinels, one exited child's and a
    queue's reader, when the exited one is ready."""
    stop = mp.Event()
    live = [mp.Process(target=stop.wait) for _ in range(children)]
    for p in live:
        p.start()
    done = mp.Process(target=noop)
    done.start()
    done.join()
    q = mp.Queue()
    objs = [p.sentinel for p in live] + [done.sentinel, q._reader]

    def once():
        mp.connection.wait(objs, 10)
        t0 = now()
        for _ in range(n):
            assert mp.connection.wait(objs, 10)
        return (now() - t0) / n * 1e6

    try:
        return median_of(once)
    finally:
        stop.set()
        for p in live:
            p.join()


def pool_create_close_join():
    """ms per Pool(2) create + close + join."""
    def once():
        t0 = now()
        pool = mp.Pool(2)
        pool.close()
        pool.join()
        return (now() - t0) * 1e3

    return median_of(once)


def pool_map(chunksize, reps, n=100_000):
    """tasks/s: Pool(2).map(square, range(100k), chunksize), after a warm-up map."""
    expect = [x * x for x in range(n)]
    with mp.Pool(2) as pool:
        pool.map(square, range(1000))          # warm-up

        def once():
            t0 = now()
            r = pool.map(square, range(n), chunksize)
            dt = now() - t0
            assert r == expect
            return n / dt

        return median_of(once, reps)


def square_chunk(xs):
    return [x * x for x in xs]


def rq_map(n, chunksize, reps):
    """tasks/s: RQ (its default Worker: a fork per job) with two workers on a redis-server of
    this run's own, squaring range(n) in jobs of `chunksize` items: the work of the
    pool/redis/* rows. Exit code 2 (no figure) if rq or redis-server is missing."""
    import shutil
    import socket
    import subprocess
    import tempfile
    try:
        import redis
        import rq
    except ImportError:
        print("mp_bench.py: rq is not installed (pip install rq)", file=sys.stderr)
        sys.exit(2)
    if shutil.which("redis-server") is None:
        print("mp_bench.py: no redis-server", file=sys.stderr)
        sys.exit(2)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
             "--appendonly", "no", "--dir", tmp],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        workers = []
        try:
            con = redis.Redis(port=port)
            deadline = now() + 20
            while True:
                try:
                    con.ping()
                    break
                except redis.exceptions.ConnectionError:
                    if now() > deadline:
                        raise
                    time.sleep(0.01)
            worker_code = (
                f"import sys; sys.path.insert(0, {here!r}); "
                "from redis import Redis; from rq import Queue, Worker; "
                f"r = Redis(port={port}); Worker([Queue('bench', connection=r)], connection=r).work()"
            )
            workers = [subprocess.Popen([sys.executable, "-c", worker_code],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                       for _ in range(2)]
            q = rq.Queue("bench", connection=con)

            def run(items):
                chunks = [list(items[i:i + chunksize]) for i in range(0, len(items), chunksize)]
                before = q.finished_job_registry.count
                jobs = q.enqueue_many([rq.Queue.prepare_data("mp_bench.square_chunk", (c,))
                                       for c in chunks])
                deadline = now() + 600
                while q.finished_job_registry.count < before + len(jobs):
                    assert now() < deadline, "RQ did not finish"
                    time.sleep(0.005)
                return jobs

            run(list(range(8)))                     # warm-up: both workers up

            def once():
                items = list(range(n))
                t0 = now()
                jobs = run(items)
                dt = now() - t0
                assert jobs[-1].return_value()[-1] == (n - 1) ** 2
                return n / dt

            return median_of(once, reps)
        finally:
            for w in workers:
                w.kill()
                w.wait()
            server.kill()
            server.wait()


def rq_failover():
    """No figure: RQ does not run a dead worker's job again by itself (its job is moved to the
    failed registry once the worker's heartbeat lapses), so there is no time to measure."""
    print("mp_bench.py: RQ reruns no job of a dead worker: no failover figure", file=sys.stderr)
    sys.exit(3)


def pool_apply_async_roundtrip(m=2000):
    """round trips/s: Pool(2).apply_async(square, (i,)).get(), one at a time."""
    with mp.Pool(2) as pool:
        pool.map(square, range(1000))          # warm-up

        def once():
            t0 = now()
            for i in range(m):
                assert pool.apply_async(square, (i,)).get() == i * i
            return m / (now() - t0)

        return median_of(once)


def mib_result(_):
    return bytes(MIB)


def pool_map_1mib_results(n=100):
    """MiB/s: Pool(2).map returning 100 results of 1 MiB each, after a warm-up map."""
    with mp.Pool(2) as pool:
        pool.map(mib_result, range(4))

        def once():
            t0 = now()
            r = pool.map(mib_result, range(n))
            dt = now() - t0
            assert len(r) == n and all(len(x) == MIB for x in r)
            return n / dt

        return median_of(once)


def pss_mib(pid):
    """The proportional set size of process `pid`, in MiB (smaps_rollup)."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no Pss line for {pid}")


def tree_pss_mib(root):
    """MiB: the summed PSS of process `root` and of every process below it."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue  # gone meanwhile
        # The parent is the second field after the command name, which ends at the last ')'.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(name))
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        try:
            total += pss_mib(pid)
        except OSError:
            pass  # gone meanwhile
        todo.extend(children.get(pid, []))
    return total


def pool_idle_pss(workers=4):
    """MiB: the summed PSS of an idle Pool(4) and its parent (this process and every process
    below it), after a warm-up map."""
    def once():
        with mp.Pool(workers) as pool:
            pool.map(square, range(1000))
            time.sleep(0.2)
            return tree_pss_mib(os.getpid())

    return median_of(once)


def _shm_reader(conn):
    from multiprocessing import shared_memory
    shm = shared_memory.SharedMemory(conn.recv())
    total = sum(shm.buf[::4096])
    shm.close()
    conn.send(total)


def shm_handoff(nbytes=256 * MIB):
    """ms from handing a filled 256 MiB SharedMemory to a waiting child by name to its
    answer, after it read one byte of every 4 KiB page."""
    from multiprocessing import shared_memory

    def once():
        shm = shared_memory.SharedMemory(create=True, size=nbytes)
        chunk = b"\x01" * MIB
        for off in range(0, nbytes, MIB):
            shm.buf[off:off + MIB] = chunk
        ours, theirs = mp.Pipe()
        p = mp.Process(target=_shm_reader, args=(theirs,))
        p.start()
        t0 = now()
        ours.send(shm.name)
        total = ours.recv()
        dt = now() - t0
        assert total == nbytes // 4096
        p.join()
        shm.close()
        shm.unlink()
        return dt * 1e3

    return median_of(once)


IMAP_CHUNKSIZE = 1000


def pool_imap_rate(n):
    """items/s: Pool(2).imap(square, range(n), chunksize=1000) consumed one by one."""
    with mp.Pool(2) as pool:
        pool.map(square, range(1000))

        def once():
            t0 = now()
            total = 0
            for r in pool.imap(square, range(n), IMAP_CHUNKSIZE):
                total += r
            dt = now() - t0
            assert total == sum(x * x for x in range(n))
            return n / dt

        return median_of(once)


def pool_imap_peak(n):
    """MiB: the parent's peak RSS (ru_maxrss) after Pool(2).imap over n items, chunksize
    1000, consumed one by one (lazy input and output keep it flat)."""
    import resource
    with mp.Pool(2) as pool:
        for _ in pool.imap(square, range(n), IMAP_CHUNKSIZE):
            pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


FIGURES = {
    "process/start_join/fork": lambda: start_join("fork", 100),
    "process/start_join/spawn": lambda: start_join("spawn", 10),
    "process/start_join/forkserver": lambda: start_join("forkserver", 100),
    "sync/lock_pair": lock_pair,
    "sync/locked_increments": locked_increments,
    "sync/semaphore_pingpong": lambda: pingpong(
        lambda: (mp.Semaphore(0), mp.Semaphore(0)), sem_echo, sem_ping),
    "sync/event_pingpong": lambda: pingpong(
        lambda: (mp.Event(), mp.Event()), event_echo, event_ping),
    "sync/condition_pingpong": lambda: pingpong(
        lambda: (mp.Condition(), mp.RawValue("i", 0)), cond_echo, cond_ping),
    "ipc/pipe_roundtrip_bytes": pipe_roundtrip_bytes,
    "ipc/pipe_throughput_1mib": pipe_throughput_1mib,
    "ipc/queue_small_items": lambda: queue_rate(200_000, None),
    "ipc/queue_1mib_items": lambda: queue_rate(100, bytes(MIB)),   # 1 MiB items: items/s == MiB/s
    "ipc/queue_scale/1": lambda: queue_scale(1),
    "ipc/queue_scale/2": lambda: queue_scale(2),
    "ipc/queue_scale/4": lambda: queue_scale(4),
    "ipc/queue_scale/8": lambda: queue_scale(8),
    "ipc/pipe_create": lambda: per_creation(make_pipe),
    "ipc/queue_create": lambda: per_creation(make_queue),
    "ipc/wait_ready_sentinel": wait_ready_sentinel,
    "ipc/shm_handoff_256mib": shm_handoff,
    "ipc/listener_roundtrip/unix": lambda: listener_roundtrip("unix"),
    "ipc/listener_roundtrip/tcp": lambda: listener_roundtrip("tcp"),
    "ipc/listener_1mib/unix": lambda: listener_1mib("unix"),
    "ipc/listener_1mib/tcp": lambda: listener_1mib("tcp"),
    "manager/dict_roundtrip": manager_dict_roundtrip,
    "pool/create_close_join": pool_create_close_join,
    "pool/map_default_chunks": lambda: pool_map(None, REPS),
    "pool/map_chunksize_1": lambda: pool_map(1, 3),
    "pool/apply_async_roundtrip": pool_apply_async_roundtrip,
    "pool/map_1mib_results": pool_map_1mib_results,
    "pool/idle_pss_pool4": pool_idle_pss,
    # RQ, the same work as the broker pool's rows (fewer items at chunk size 1: a fork a job).
    "pool/redis/map_chunksize_1": lambda: rq_map(1_000, 1, REPS),
    "pool/redis/map_chunks_100": lambda: rq_map(50_000, 100, REPS),
    "pool/redis/failover": rq_failover,
    "pool/imap_scale/1e4": lambda: pool_imap_rate(10**4),
    "pool/imap_scale/1e5": lambda: pool_imap_rate(10**5),
    "pool/imap_scale/1e6": lambda: pool_imap_rate(10**6),
    "pool/imap_scale/1e7": lambda: pool_imap_rate(10**7),
    "pool/imap_peak_rss/1e4": lambda: pool_imap_peak(10**4),
    "pool/imap_peak_rss/1e5": lambda: pool_imap_peak(10**5),
    "pool/imap_peak_rss/1e6": lambda: pool_imap_peak(10**6),
    "pool/imap_peak_rss/1e7": lambda: pool_imap_peak(10**7),
}


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    if argv[1] == "--list":
        print("\n".join(FIGURES))
        return 0
    fn = FIGURES.get(argv[1])
    if fn is None:
        print(f"mp_bench.py: unknown figure {argv[1]!r}", file=sys.stderr)
        return 2
    pin_children_if_split()
    print(f"{fn():.6g}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
