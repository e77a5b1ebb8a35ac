"""The demo served as it is deployed: gunicorn (static files through whitenoise) and one
`grassroots worker` beside it, so deadlines, escalations and reminders move while one watches.

serve() starts both as child processes and waits. Ctrl+C (SIGINT, which the terminal sends to
all three) or SIGTERM stops both — gunicorn finishes its requests, the worker its current job —
and returns 0; when either child ends by itself, the other is stopped and its code returned.
"""

import re
import signal
import subprocess
import sys
import time

STOP_SECONDS = 20
_ADDR = re.compile(r"^(?:(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):)?(?P<port>\d{1,5})$")


def parse_addr(addr: str) -> tuple[str, int]:
    """(host, port) of "host:port", "[::1]:port" or a bare port (on 127.0.0.1); ValueError otherwise."""
    match = _ADDR.match((addr or "").strip())
    if not match or not 0 < int(match["port"]) < 65536:
        raise ValueError(f"地址“{addr}”不正确：应为 主机:端口，例如 127.0.0.1:8000、0.0.0.0:8000 或 8000")
    return match["host"] or "127.0.0.1", int(match["port"])


def gunicorn_command(addr: str, workers: int) -> list[str]:
    import gunicorn

    host, port = parse_addr(addr)
    command = [sys.executable, "-m", "gunicorn", "grassroots.wsgi:application", "--bind", f"{host}:{port}",
               "--workers", str(workers), "--graceful-timeout", "10", "--access-logfile", "-",
               "--access-logformat", '%(h)s "%(r)s" %(s)s %(b)s']
    if gunicorn.version_info >= (27,):  # no control socket in ~/.gunicorn: two demos side by side would share it
        command.append("--no-control-socket")
    return command


def worker_command() -> list[str]:
    return [sys.executable, "-m", "grassroots.cli", "worker"]


class _Stop(Exception):
    pass


def _raise_stop(signum, frame):
    raise _Stop


def serve(addr: str, *, workers: int = 2, with_worker: bool = True, env: dict | None = None,
          say=print) -> int:
    commands = [("gunicorn", gunicorn_command(addr, workers))]
    if with_worker:
        commands.append(("grassroots worker", worker_command()))
    # Our own handlers, also where SIGINT came in ignored (a shell's background job): Ctrl+C and
    # SIGTERM both mean "stop the two children, then return".
    previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    children: list[tuple[str, subprocess.Popen]] = []
    code = 0
    try:
        for name, command in commands:
            children.append((name, subprocess.Popen(command, env=env)))
        while True:
            ended = [(name, p.returncode) for name, p in children if p.poll() is not None]
            if ended:
                name, code = ended[0]
                say(f"{name} 已退出（代码 {code}），正在停止其余进程…")
                break
            time.sleep(0.5)
    except (KeyboardInterrupt, _Stop):
        say("正在停止…")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl+C does not cut the stop short
        try:
            _stop(p for _, p in children)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    return code


def _stop(processes) -> None:
    processes = [p for p in processes if p.poll() is None]
    for p in processes:
        p.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    for p in processes:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
