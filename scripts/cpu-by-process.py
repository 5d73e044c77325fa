#!/usr/bin/env python3
"""Where the CPU goes while a load program runs: runs the command given, samples every Java process's CPU time
(and each of its threads') from /proc once a second, and prints, for each scenario window the command reports, the
cores each process used and its busiest thread groups (JIT compiler threads, HTTP workers, ...).

A scenario window is a line of the command's output such as WriteLoad prints:
    WINDOW store=s3 scenario=sustained start=1796667361.442 end=1796667373.894

Processes are named from their command line: the load program (WriteLoad), S3Mock (s3mock.jar), a Latchkey server
(any other -jar: run nothing else beside it), other Java processes. A process's total includes the threads that
ended during the window; its thread groups do not (the JVM stops idle compiler threads), so they are lower bounds.
Linux only.

Usage, from app-http (see WriteLoad's Javadoc for the class path):
    ../scripts/cpu-by-process.py java -Dlatchkey.jar=target/latchkey.jar -cp ... dev.latchkey.server.it.WriteLoad s3
"""
import collections
import os
import re
import subprocess
import sys
import threading
import time

TICKS = os.sysconf('SC_CLK_TCK')


def kind_of(pid):
    try:
        args = open(f'/proc/{pid}/cmdline', 'rb').read().split(b'\0')
    except OSError:
        return None
    if not args or not args[0].endswith(b'java'):
        return None
    if any(arg.endswith(b'WriteLoad') for arg in args):
        return 'load program'
    if any(arg.endswith(b's3mock.jar') for arg in args):
        return 'S3Mock'
    if b'-jar' in args:
        return 'server'
    return 'other'


def cpu_ticks(stat_line):
    fields = stat_line.rsplit(')', 1)[1].split()
    return int(fields[11]) + int(fields[12])


def sample(kinds):
    """{pid: (kind, process ticks, {tid: (thread name, ticks)})} for every Java process now."""
    now = {}
    for pid in filter(str.isdigit, os.listdir('/proc')):
        if kinds.get(pid) is None:
            # not cached while not Java: a process may exec java after it was first seen
            kinds[pid] = kind_of(pid)
        if kinds[pid] is None:
            continue
        try:
            total = cpu_ticks(open(f'/proc/{pid}/stat').read())
            threads = {}
            for tid in os.listdir(f'/proc/{pid}/task'):
                try:
                    line = open(f'/proc/{pid}/task/{tid}/stat').read()
                    threads[tid] = (line[line.index('(') + 1:line.rindex(')')], cpu_ticks(line))
                except OSError:
                    pass
            now[pid] = (kinds[pid], total, threads)
        except OSError:
            pass
    return now


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    samples = []
    stop = threading.Event()

    def sampler():
        kinds = {}
        while not stop.is_set():
            began = time.time()
            samples.append((began, sample(kinds)))
            stop.wait(max(0.0, 1.0 - (time.time() - began)))

    thread = threading.Thread(target=sampler, daemon=True)
    thread.start()
    windows = []
    process = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors='replace')
    for line in process.stdout:
        sys.stdout.write(line)
        found = re.match(r'WINDOW store=(\S+) scenario=(\S+) start=(\S+) end=(\S+)', line)
        if found:
            windows.append((found.group(1) + ' ' + found.group(2), float(found.group(3)), float(found.group(4))))
    code = process.wait()
    stop.set()
    thread.join()

    for name, start, end in windows:
        inside = [s for s in samples if start <= s[0] <= end]
        if len(inside) < 2:
            print(f'\n{name}: too short to sample')
            continue
        (t0, first), (t1, last) = inside[0], inside[-1]
        seconds = t1 - t0
        print(f'\nCPU during {name} ({seconds:.1f} s of its {end - start:.1f} s sampled), in cores:')
        for pid, (kind, total, threads) in sorted(last.items(), key=lambda item: item[1][0]):
            if pid not in first:
                continue
            _, total0, threads0 = first[pid]
            groups = collections.Counter()
            for tid, (thread_name, ticks) in threads.items():
                groups[re.sub(r'[-#]?\d+$', '', thread_name)] += ticks - threads0.get(tid, (thread_name, 0))[1]
            busiest = ', '.join(f'{group} {ticks / TICKS / seconds:.2f}' for group, ticks in groups.most_common(4) if ticks / TICKS / seconds >= 0.02)
            print(f'  {kind:12s} (pid {pid}): {(total - total0) / TICKS / seconds:.2f}  [{busiest}]')
    sys.exit(code if code >= 0 else 128 - code)


if __name__ == '__main__':
    main()
